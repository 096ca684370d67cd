"""Writing a run's outputs atomically: a temporary sibling folder, renamed into place when complete."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mlmroi.errors import OutputError
from mlmroi.pipeline import Result
from mlmroi.report import render

TABLES = ("participants", "commissions", "rejects")


def write(
    result: Result, out_dir: str | Path, formats: Iterable[str] = ("parquet",), inputs: Iterable[Path] = ()
) -> Path:
    """Write participants, commissions, rejects, segments (parquet, and csv if asked), run.json,
    report.html (the self-contained page people read in a browser, :mod:`mlmroi.report`) and timings.json.

    Everything but ``timings.json`` is byte-identical for the same inputs and config. An existing output
    folder is replaced only once the new one is complete; a folder holding input files is refused.
    """
    out = Path(out_dir).resolve()
    for path in inputs:
        if path.resolve().parent == out or out in path.resolve().parents:
            raise OutputError(
                f"--out {out_dir}: would overwrite the input {path.name}; choose another folder"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        frames = {
            "participants": result.participants,
            "commissions": result.commissions,
            "rejects": result.rejects,
            "segments": result.segments,
            **result.outputs,
        }
        for name, frame in frames.items():
            if "parquet" in formats:
                # zstd level 1: at 10M participants both faster (3.8 s vs 4.9 s) and smaller than the default
                # level (measured on participants.parquet, 57 columns).
                frame.write_parquet(
                    tmp / f"{name}.parquet", compression="zstd", compression_level=1, statistics=False
                )
            if "csv" in formats:
                frame.write_csv(tmp / f"{name}.csv")
        (tmp / "run.json").write_text(
            json.dumps(result.run, indent=2, sort_keys=False) + "\n", encoding="utf-8"
        )
        (tmp / "report.html").write_bytes(render(result).encode("utf-8"))
        (tmp / "timings.json").write_text(json.dumps(result.timings, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / out.name)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
