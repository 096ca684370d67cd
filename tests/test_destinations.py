"""Where mlmroi may write (mlmroi.destinations): folders that are mlmroi's or untouched, the lock, crash
recovery, permissions, single-file outputs."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from mlmroi.destinations import MARKER, check_folder, claim_file, claim_folder, replacing
from mlmroi.errors import OutputError


def _output(folder: Path, *names: str, kind: str = "output") -> Path:
    """A finished mlmroi output folder holding ``names`` (as a run leaves it)."""
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text(f"old {name}\n")
    (folder / MARKER).write_text(json.dumps({"written_by": "mlmroi", "kind": kind, "files": list(names)}))
    return folder


def _fill(claim, *names: str) -> Path:  # type: ignore[no-untyped-def]
    for name in names:
        (claim.staging / name).write_text(f"new {name}\n")
    return claim.commit()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}."))


def test_new_folder_gets_the_files_and_a_marker_listing_them(tmp_path: Path) -> None:
    out = _fill(claim_folder(tmp_path / "a" / "out"), "run.json", "participants.parquet")
    assert out == (tmp_path / "a" / "out").resolve()
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "output" and marker["files"] == ["participants.parquet", "run.json"]
    assert (out / "run.json").read_text() == "new run.json\n"
    assert _siblings(out) == []  # no staging folder, no lock file left


def test_an_earlier_output_is_replaced_whole(tmp_path: Path) -> None:
    old = _output(tmp_path / "out", "run.json", "participants.csv")
    _fill(claim_folder(old), "run.json")
    assert sorted(p.name for p in old.iterdir()) == [MARKER, "run.json"]
    assert (old / "run.json").read_text() == "new run.json\n"


@pytest.mark.parametrize(
    "make",
    [
        lambda d: (d.mkdir(), (d / "notes.txt").write_text("mine")),
        lambda d: (_output(d, "run.json"), (d / "notes.txt").write_text("mine")),  # marker + a user file
        lambda d: (_output(d, "run.json"), (d / "sub").mkdir()),
        lambda d: (d.mkdir(), (d / "run.json").write_text("{}")),  # mlmroi's names, no marker
        lambda d: _output(d, "participants.csv", kind="dataset"),  # another kind's marker
        lambda d: (_output(d, "run.json"), (d / "report.html").write_text("not listed")),
    ],
    ids=["user-file", "marker-plus-user-file", "subfolder", "no-marker", "other-kind", "unlisted-file"],
)
def test_a_folder_that_is_not_mlmroi_s_is_refused_untouched(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "out"
    make(folder)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    with pytest.raises(
        OutputError, match=r"^--out .*out: (holds files mlmroi did not write|is not an mlmroi)"
    ):
        claim_folder(folder)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert _siblings(folder) == []


def test_files_inputs_and_input_folders_are_refused(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "orders.csv").write_text("x\n")
    config = tmp_path / "cfg" / "c.toml"
    config.parent.mkdir()
    config.write_text("")
    inputs = [dataset, dataset / "orders.csv", config]
    for out, reason in (
        (dataset, "is an input of this run"),
        (dataset / "orders.csv", "is an input of this run"),
        (config, "is an input of this run"),
        (config.parent, "contains an input of this run"),
        (tmp_path, "contains an input of this run"),
    ):
        with pytest.raises(OutputError, match=reason):
            check_folder(out, inputs)
    (tmp_path / "file.txt").write_text("mine")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_folder(tmp_path / "file.txt")
    assert (dataset / "orders.csv").read_text() == "x\n" and (tmp_path / "file.txt").read_text() == "mine"
    check_folder(dataset / "out", inputs)  # a new folder inside the dataset folder is fine


def test_symlinks_are_resolved_before_every_check(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    (tmp_path / "link").symlink_to(mine)
    with pytest.raises(OutputError, match=r"through a symlink.*holds files mlmroi did not write"):
        claim_folder(tmp_path / "link")
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (tmp_path / "ds-link").symlink_to(dataset)
    with pytest.raises(OutputError, match="is an input"):
        check_folder(tmp_path / "ds-link", [dataset])
    # A link to an mlmroi output: the folder it points to is replaced, the link stays a link.
    target = _output(tmp_path / "real-out", "run.json")
    (tmp_path / "out-link").symlink_to(target)
    _fill(claim_folder(tmp_path / "out-link"), "report.html")
    assert (tmp_path / "out-link").is_symlink() and (target / "report.html").is_file()


def test_home_system_and_current_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(OutputError, match="is a home folder"):
        check_folder(home)  # even empty
    for system in ("/", "/tmp", "/usr", "/etc", "/var"):
        with pytest.raises(OutputError, match="is a system folder"):
            check_folder(system)
    work = tmp_path / "work"
    work.mkdir()
    (work / "draft.txt").write_text("mine")
    monkeypatch.chdir(work)
    with pytest.raises(OutputError, match=r"^--out \.: holds files mlmroi did not write \(draft\.txt\)"):
        claim_folder(".")


def test_a_mount_point_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "mnt"
    out.mkdir()
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(out))
    with pytest.raises(OutputError, match="is a mount point"):
        claim_folder(out)
    assert out.is_dir() and _siblings(out) == []


def test_mode_follows_the_umask_or_the_folder_replaced(tmp_path: Path) -> None:
    previous = os.umask(0o007)
    try:
        out = _fill(claim_folder(tmp_path / "new"), "run.json")
        assert stat.S_IMODE(out.stat().st_mode) == 0o770
        assert stat.S_IMODE((out / "run.json").stat().st_mode) == 0o660
        shared = _output(tmp_path / "shared", "run.json")
        os.chmod(shared, 0o2775)
        _fill(claim_folder(shared), "run.json")
        assert stat.S_IMODE(shared.stat().st_mode) == 0o2775
        empty = tmp_path / "empty"
        empty.mkdir(mode=0o755)
        os.chmod(empty, 0o755)
        _fill(claim_folder(empty), "run.json")
        assert stat.S_IMODE(empty.stat().st_mode) == 0o755
    finally:
        os.umask(previous)


def test_not_enough_space_or_no_write_access_fails_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"MiB needed, [\d,]+ MiB free"):
        claim_folder(tmp_path / "out", needed_bytes=1 << 60)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot write there"):
        claim_folder(tmp_path / "file" / "out")


def test_leftovers_of_killed_runs_are_removed_but_nothing_else(tmp_path: Path) -> None:
    out = _output(tmp_path / "out", "run.json")
    partial = tmp_path / ".out.mlmroi-new.dead1"
    partial.mkdir()
    (partial / "participants.parquet").write_bytes(b"PAR1 half")
    done_old = _output(tmp_path / ".out.mlmroi-new.dead2", "run.json")  # killed right after the exchange
    stranger = tmp_path / ".out.mlmroi-new.user"
    stranger.mkdir()
    (stranger / "diary.txt").write_text("mine")
    _fill(claim_folder(out), "run.json")
    assert not partial.exists() and not done_old.exists()
    assert (stranger / "diary.txt").read_text() == "mine"


@pytest.mark.parametrize("finished", [True, False])
def test_a_kill_between_the_two_renames_is_repaired_by_the_next_run(tmp_path: Path, finished: bool) -> None:
    # The state a kill leaves when the filesystem cannot exchange: --out missing, the old output moved
    # aside, the new one complete (marker written) or not.
    _output(tmp_path / ".out.mlmroi-old.ab12", "run.json")
    new = tmp_path / ".out.mlmroi-new.ab12"
    new.mkdir()
    (new / "report.html").write_text("new report")
    if finished:
        (new / MARKER).write_text(json.dumps({"kind": "output", "files": ["report.html"]}))
    claim = claim_folder(tmp_path / "out")
    out = tmp_path / "out"
    # Before the new run writes anything, --out is whole again: the swap finished, or undone.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MARKER, "report.html" if finished else "run.json"]
    )
    claim.release()
    assert _siblings(out) == []


def test_swap_by_two_renames_where_exchange_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLMROI_NO_EXCHANGE", "1")
    out = _output(tmp_path / "out", "run.json")
    _fill(claim_folder(out), "report.html")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "report.html"] and _siblings(out) == []


def test_a_file_added_to_the_old_output_during_the_run_is_never_deleted(tmp_path: Path) -> None:
    out = _output(tmp_path / "out", "run.json")
    claim = claim_folder(out)
    (claim.staging / "run.json").write_text("new")
    (out / "notes.txt").write_text("written while the run computed")
    with pytest.raises(OutputError, match=r"now holds files mlmroi did not write \(notes\.txt\)"):
        claim.commit()
    assert (out / "notes.txt").read_text() == "written while the run computed"
    assert (out / "run.json").read_text() == "old run.json\n" and _siblings(out) == []


def test_a_failed_run_leaves_the_previous_output_and_no_staging(tmp_path: Path) -> None:
    out = _output(tmp_path / "out", "run.json")
    with pytest.raises(RuntimeError), claim_folder(out) as claim:
        (claim.staging / "run.json").write_text("half")
        raise RuntimeError("the computation failed")
    assert (out / "run.json").read_text() == "old run.json\n" and _siblings(out) == []


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    first = claim_folder(tmp_path / "out")
    waited: list[str] = []
    done: list[Path] = []

    def second() -> None:
        done.append(_fill(claim_folder(tmp_path / "out", on_wait=waited.append), "report.html"))

    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + 10
    while not waited and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waited and f"pid {os.getpid()}" in waited[0] and "waiting for another mlmroi run" in waited[0]
    assert not done  # still waiting
    _fill(first, "run.json")
    thread.join(10)
    assert done and sorted(p.name for p in (tmp_path / "out").iterdir()) == [MARKER, "report.html"]
    assert _siblings(tmp_path / "out") == []


def test_single_files_never_overwrite_inputs_or_foreign_files(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "orders.csv").write_text("x\n")
    mine = tmp_path / "mine.csv"
    mine.write_text("my numbers\n")
    ours = tmp_path / "ours.csv"
    ours.write_text("a,b\n")

    def claim(path: Path) -> Path:
        return claim_file(
            path, (".csv", ".parquet"), [dataset], lambda p: p.read_text() == "a,b\n", "earlier"
        )

    for path, reason in (
        (dataset / "orders.csv", "would write into the folder of the input"),
        (dataset / "new.csv", "would write into the folder of the input"),
        (tmp_path / "x.xlsx", r"must end in \.csv or \.parquet"),
        (mine, "is not an earlier"),
        (tmp_path, r"must end in|exists and is not a file"),
    ):
        with pytest.raises(OutputError, match=reason):
            claim(path)
    target = claim(ours)
    with replacing(target) as staging:
        staging.write_text("a,b\n1,2\n")
    assert ours.read_text() == "a,b\n1,2\n" and mine.read_text() == "my numbers\n"
    with pytest.raises(RuntimeError), replacing(claim(tmp_path / "new.csv")) as staging:
        staging.write_text("half")
        raise RuntimeError
    assert not (tmp_path / "new.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "mine.csv", "ours.csv"]
