"""Never lose a user's data, never a traceback: the command line's output rules end to end (issue 10).

In-process tests use typer's runner; the ones that need a real process (SIGKILL during the write phase,
two runs at once, an ASCII console, a memory limit) start ``python -m mlmroi_cli.supervise`` — what the
installed ``mlmroi`` command runs.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from mlmroi.destinations import MARKER, claim_folder
from mlmroi.output import spreadsheet_safe
from mlmroi_cli.main import app
from mlmroi_cli.terminal import shown
from tests.helpers import ORACLE_ORDERS, write_dataset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
runner = CliRunner()

# Ids a spreadsheet would run as formulas; the chain =A <- +B <- -C <- @D, E, F under +B.
RISKY_PARTICIPANTS = """
participant_id,sponsor_id,joined_on,role
=A,,2024-01-01,distributor
+B,=A,2024-01-01,distributor
-C,+B,2024-01-01,distributor
@D,-C,2024-01-01,distributor
E,@D,2024-01-01,distributor
F,+B,2024-01-01,distributor
"""
RISKY_ORDERS = ORACLE_ORDERS.replace("A,", "=A,").replace("B,", "+B,").replace("D,", "@D,")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def _one_error_line(output: str) -> str:
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A dataset with formula-like ids and its scored run (CSV copies too)."""
    root = tmp_path_factory.mktemp("risky")
    dataset = write_dataset(
        root / "ds",
        RISKY_PARTICIPANTS,
        RISKY_ORDERS + "=SUM(1),2025-01-05,5\n",
        costs="participant_id,incurred_on,category,amount\nE,2025-01-05,advertising,500\n",
    )
    result = invoke("score", str(dataset), "--out", str(root / "run"), "--format", "csv")
    assert result.exit_code == 0, result.output
    return dataset, root / "run"


# -- CSV outputs are safe to open in a spreadsheet --------------------------------------------------------


def test_csv_cells_that_start_a_formula_get_an_apostrophe(scored: tuple[Path, Path]) -> None:
    _, run = scored
    people = pl.read_csv(run / "participants.csv", infer_schema=False)
    assert sorted(people["participant_id"]) == sorted(["'=A", "'+B", "'-C", "'@D", "E", "F"])
    parquet = pl.read_parquet(run / "participants.parquet")
    assert sorted(parquet["participant_id"]) == sorted(["=A", "+B", "-C", "@D", "E", "F"])  # data as is
    # Money and numbers are written unchanged, negative ones included.
    assert any(v.startswith("-") and v[1:2].isdigit() for v in people["profit"].to_list())
    assert people["profit"].to_list() == [str(v) for v in parquet["profit"].to_list()]
    rejects = pl.read_csv(run / "rejects.csv", infer_schema=False)
    assert "'=SUM(1)" in rejects["value"].to_list()
    commissions = pl.read_csv(run / "commissions.csv", infer_schema=False)
    assert set(commissions["participant_id"]) <= {"'=A", "'+B", "'-C", "'@D", "E", "F"}


def test_spreadsheet_safe_covers_every_formula_start_and_only_text() -> None:
    frame = pl.DataFrame(
        {
            "text": ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "a=b", "", None],
            "number": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
            "cat": pl.Series(["-x", "y", "y", "y", "y", "y", "y", "y", "y"], dtype=pl.Categorical),
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["text"].to_list() == ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "a=b", "", None]
    assert safe["number"].to_list() == frame["number"].to_list()
    assert safe["cat"].to_list()[0] == "'-x"


# -- the terminal shows data, never control sequences ------------------------------------------------------


def test_control_characters_from_the_data_are_shown_escaped(tmp_path: Path) -> None:
    evil = "\x1b[2J\x1b]0;pwned\x07X\u202eY"
    dataset = write_dataset(tmp_path / "ds", RISKY_PARTICIPANTS, RISKY_ORDERS + f'"{evil}",2025-01-05,5\n')
    checked = runner.invoke(app, ["validate", str(dataset)], env={"COLUMNS": "300"})
    assert checked.exit_code == 1
    strict = invoke("score", str(dataset), "--out", str(tmp_path / "out"), "--strict")
    assert strict.exit_code == 1
    for output in (checked.output, strict.output):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "\\x1b[2J\\x1b]0;pwned\\x07X\\u202eY" in checked.output
    assert shown("a\nb\tc\x00\x9b") == "a\\nb\\tc\\x00\\x9b"


def test_a_config_value_reaches_the_summary_escaped(tmp_path: Path) -> None:
    config = '[window]\nstart = 2025-01-01\nend = 2025-03-31\n[money]\ncurrency = "\\u001b[31mEUR"\n'
    dataset = write_dataset(tmp_path / "ds", RISKY_PARTICIPANTS, RISKY_ORDERS, config=config)
    result = invoke("score", str(dataset), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\\x1b[31mEUR" in result.output


# -- other commands never write onto inputs or foreign files ------------------------------------------------


def test_explain_out_rules(scored: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, run = scored
    orders = (dataset / "orders.csv").read_bytes()
    (tmp_path / "mine.csv").write_text("my,own\n")
    for target, reason in (
        (tmp_path / "x.xlsx", r"must end in \.csv or \.parquet"),
        (dataset / "orders.csv", "would write into"),
        (dataset / "detail.csv", "would write into the folder of the input"),
        (run / "detail.csv", "would write into the folder of the input"),
        (tmp_path / "mine.csv", "exists and is not an earlier `mlmroi explain --out` file"),
    ):
        result = runner.invoke(app, ["explain", str(run), "+B", "--out", str(target)])
        assert result.exit_code == 2, result.output
        assert re.search(reason, _one_error_line(result.output))
    assert (dataset / "orders.csv").read_bytes() == orders and (
        tmp_path / "mine.csv"
    ).read_text() == "my,own\n"
    assert not (tmp_path / "x.xlsx").exists() and not (run / "detail.csv").exists()
    for _ in range(2):  # a new file, then the earlier explain output replaced
        result = invoke("explain", str(run), "=A", "--out", str(tmp_path / "detail.csv"))
        assert result.exit_code == 0, result.output
    detail = pl.read_csv(tmp_path / "detail.csv", infer_schema=False)
    assert set(detail["participant_id"]) <= {"'+B", "'-C", "'@D", "E", "F"}  # spreadsheet-safe
    assert invoke("explain", str(run), "=A", "--out", str(tmp_path / "d.parquet")).exit_code == 0
    assert pl.read_parquet(tmp_path / "d.parquet")["participant_id"].to_list()[0][0] in "+-@EF"


def test_compare_out_never_replaces_a_run_it_reads(scored: tuple[Path, Path], tmp_path: Path) -> None:
    _, run = scored
    copy = tmp_path / "run-b"
    shutil.copytree(run, copy)
    before = sorted(p.name for p in copy.iterdir())
    result = runner.invoke(app, ["compare", str(run), str(copy), "--out", str(copy)])
    assert result.exit_code == 2 and "is an input of this run" in _one_error_line(result.output)
    assert sorted(p.name for p in copy.iterdir()) == before
    assert invoke("compare", str(run), str(copy), "--out", str(tmp_path / "moves")).exit_code == 0
    assert json.loads((tmp_path / "moves" / MARKER).read_text())["files"] == [
        "members.parquet",
        "migrations.parquet",
    ]


def test_generate_refuses_folders_that_are_not_generated_datasets(tmp_path: Path) -> None:
    args = ["--participants", "50", "--months", "2"]
    mine = write_dataset(tmp_path / "mine", RISKY_PARTICIPANTS, RISKY_ORDERS)
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    result = runner.invoke(app, ["generate", str(mine), *args])
    assert result.exit_code == 2 and "holds files mlmroi did not write" in _one_error_line(result.output)
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before
    assert invoke("generate", str(tmp_path / "gen"), *args).exit_code == 0
    assert invoke("generate", str(tmp_path / "gen"), *args, "--seed", "2").exit_code == 0  # its own: replaced
    assert invoke("score", str(tmp_path / "gen"), "--out", str(tmp_path / "out")).exit_code == 0
    # A score output is not a dataset, and a dataset is not a score output.
    assert runner.invoke(app, ["generate", str(tmp_path / "out"), *args]).exit_code == 2
    result = runner.invoke(app, ["score", str(mine), "--out", str(tmp_path / "gen")])
    assert result.exit_code == 2 and "is not an mlmroi output folder" in result.output


def test_simulate_json_never_overwrites_a_foreign_file(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "ds", RISKY_PARTICIPANTS, RISKY_ORDERS)
    (tmp_path / "notes.json").write_text('{"mine": true}\n')
    result = runner.invoke(
        app,
        [
            "simulate",
            str(dataset),
            "--plan",
            str(dataset / "mlmroi.toml"),
            "--json",
            str(tmp_path / "notes.json"),
        ],
    )
    assert result.exit_code == 2 and "is not an earlier" in _one_error_line(result.output)
    assert (tmp_path / "notes.json").read_text() == '{"mine": true}\n'


# -- never a traceback -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "code", "words"),
    [
        (MemoryError(), 2, "out of memory"),
        (OSError(errno.EACCES, "Permission denied", "/data/x.csv"), 2, "/data/x.csv: Permission denied"),
        (UnicodeEncodeError("ascii", "é", 0, 1, "ordinal not in range"), 2, "cannot encode text"),
        (RuntimeError("boom"), 3, "internal error (RuntimeError: boom)"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_unexpected_failures_are_one_line_with_a_documented_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: int, words: str
) -> None:
    import mlmroi.pipeline

    def fail(*_args: object, **_kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(mlmroi.pipeline, "score", fail)
    monkeypatch.delenv("MLMROI_DEBUG", raising=False)
    old = tmp_path / "out"
    dataset = write_dataset(tmp_path / "ds", RISKY_PARTICIPANTS, RISKY_ORDERS)
    result = runner.invoke(app, ["score", str(dataset), "--out", str(old)])
    assert result.exit_code == code
    assert words in _one_error_line(result.output)
    assert not old.exists() and [p.name for p in tmp_path.iterdir()] == ["ds"]  # nothing left behind
    if not isinstance(raised, KeyboardInterrupt):  # (click itself turns Ctrl-C into exit 130)
        monkeypatch.setenv("MLMROI_DEBUG", "1")  # the traceback, for bug reports
        debug = runner.invoke(app, ["score", str(dataset), "--out", str(old)])
        assert type(debug.exception) is type(raised)


def test_a_full_disk_during_the_write_keeps_the_previous_output(
    scored: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlmroi.output

    dataset, _ = scored
    out = tmp_path / "out"
    assert invoke("score", str(dataset), "--out", str(out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "timings.json"}
    real = mlmroi.output.write_into

    def half_then_full(result, folder: Path, formats=("parquet",)) -> None:  # type: ignore[no-untyped-def]
        real(result, folder, formats)
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "report.html"))

    monkeypatch.setattr(mlmroi.output, "write_into", half_then_full)
    result = runner.invoke(app, ["score", str(dataset), "--out", str(out), "--format", "csv"])
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "No space left on device" in line and "the previous output is unchanged" in line
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "timings.json"} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# -- real processes ------------------------------------------------------------------------------------------


def _mlmroi(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLMROI_DEBUG", "MLMROI_IN_PROCESS")}
    env.update(kwargs.pop("env", {}))  # type: ignore[arg-type]
    options: dict[str, object] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    options.update(kwargs)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "mlmroi_cli.supervise", *args], cwd=ROOT, env=env, **options
    )


def _whole(out: Path) -> list[str]:
    """The files of a complete output folder (its marker lists exactly what is there)."""
    marker = json.loads((out / MARKER).read_text())
    names = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert names == marker["files"]
    pl.read_parquet(out / "participants.parquet")
    return names


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "ds"
    shutil.copytree(SAMPLE, folder)
    return folder


def test_sigkill_during_the_write_phase_leaves_a_whole_folder(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("score", str(sample), "--out", str(out), "--format", "csv").exit_code == 0
    expected = _whole(out)
    killed_while_writing = 0
    for _ in range(3):
        proc = _mlmroi("score", str(sample), "--out", str(out), "--format", "csv", start_new_session=True)
        while proc.poll() is None:
            staging = [p for p in tmp_path.glob(".out.mlmroi-new.*") if any(p.iterdir())]
            if staging:  # the write phase has begun
                os.killpg(proc.pid, signal.SIGKILL)
                killed_while_writing += 1
                break
            time.sleep(0.002)
        proc.communicate()
        assert _whole(out) == expected  # the old output or the new one, whole, at every kill
    assert killed_while_writing
    # The next run removes what the killed ones left and writes normally.
    rerun = _mlmroi("score", str(sample), "--out", str(out), "--format", "csv")
    rerun.communicate(timeout=120)
    assert rerun.returncode == 0
    assert _whole(out) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _running(pid: str) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in "ZX"


def test_killing_mlmroi_stops_its_child_at_once(sample: Path, tmp_path: Path) -> None:
    proc = _mlmroi("score", str(sample), "--out", str(tmp_path / "out"))
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    child = ""
    while not child and time.monotonic() < deadline:
        child = children.read_text().strip() if children.exists() else ""
        time.sleep(0.01)
    if not child:
        proc.kill()
        pytest.skip("this kernel does not list a process's children")
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(child)

    # Its lock is free: a claim goes through without waiting.
    def never_wait(message: str) -> None:
        raise AssertionError(message)

    claim_folder(tmp_path / "out", on_wait=never_wait).release()


def test_a_deadlocked_child_is_told_from_a_working_or_waiting_one(tmp_path: Path) -> None:
    from mlmroi_cli.supervise import _stalled

    lock = tmp_path / "lock"
    held = open(lock, "w")  # noqa: SIM115 - held across the three children
    fcntl.flock(held, fcntl.LOCK_EX)
    programs = {
        "deadlocked": "import threading; threading.Event().wait()",
        "working": "while True: pass",
        "waiting for the lock": f"import fcntl; fcntl.flock(open({str(lock)!r}), fcntl.LOCK_EX)",
    }
    children = {name: subprocess.Popen([sys.executable, "-c", code]) for name, code in programs.items()}
    try:
        time.sleep(1.0)  # started and settled
        verdicts = {name: _stalled(child.pid, seconds=2.0, poll=0.2) for name, child in children.items()}
    finally:
        for child in children.values():
            child.kill()
            child.wait()
        held.close()
    assert verdicts == {"deadlocked": True, "working": False, "waiting for the lock": False}


def test_a_second_run_into_the_same_folder_waits_for_the_first(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    held = claim_folder(out)  # the first run, mid-way
    proc = _mlmroi("score", str(sample), "--out", str(out), stdout=subprocess.DEVNULL)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr))  # type: ignore[arg-type]
    reader.start()
    deadline = time.monotonic() + 60
    while not any("waiting for another mlmroi run" in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(f"(pid {os.getpid()})" in line for line in lines), lines
    assert proc.poll() is None and not out.exists()
    held.release()
    assert proc.wait(120) == 0
    reader.join()
    proc.stderr.close()  # type: ignore[union-attr]
    assert "Traceback" not in "".join(lines)
    _whole(out)


def test_two_runs_at_once_both_finish_and_leave_one_whole_folder(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    procs = [_mlmroi("score", str(sample), "--out", str(out)) for _ in range(2)]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert not any("Traceback" in err for _, err in results)
    _whole(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_ascii_console_gets_ascii_not_a_traceback(sample: Path, tmp_path: Path) -> None:
    proc = _mlmroi("score", str(sample), "--out", str(tmp_path / "out"), env={"PYTHONIOENCODING": "ascii"})
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    stdout.encode("ascii")  # nothing but ASCII
    assert "wrote" in stdout and "ROI %" in stdout


@pytest.mark.parametrize("mib", [600, 1000, 1150])  # memory runs out while loading / compiling / running
def test_out_of_memory_is_one_line_with_exit_2(sample: Path, tmp_path: Path, mib: int) -> None:
    limit = mib * 2**20  # too little address space for numba, polars and scipy to load and run

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = _mlmroi(
        "score", str(sample), "--out", str(tmp_path / "out"), preexec_fn=cap, start_new_session=True
    )
    try:
        _, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"mlmroi hung under a {mib} MiB address-space limit")
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_a_native_crash_under_an_address_space_limit_is_out_of_memory() -> None:
    import signal as signals

    from mlmroi_cli.supervise import _verdict

    message, code = _verdict(-signals.SIGSEGV, limited=True)
    assert code == 2 and "memory ran out" in message and "SIGSEGV" in message
    message, code = _verdict(-signals.SIGSEGV, limited=False)  # without a limit it is a bug to report
    assert code == 3 and "please report" in message
