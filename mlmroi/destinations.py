"""Where mlmroi may write, and writing there without ever losing what is already on disk.

The rules (README "What a run writes", docs/data-contract.md):

* **A folder is mlmroi's or it is not touched.** An output folder (``score --out``, ``compare --out``,
  ``generate DIR``) may be a path that does not exist, an empty folder, or a folder an earlier mlmroi run
  of the same kind wrote: it holds the marker file :data:`MARKER` and nothing but the files that run
  wrote. Anything else — a file, a folder with other files, an input of the run or a folder containing
  one, a home or system folder, a mount point — is refused with one line naming the path and the reason,
  before any data is read. Symlinks are resolved first; there is no ``--force``.
* **Writability first.** The sibling staging folder is created (and free space checked against the
  caller's estimate) before the computation starts.
* **Crash-clean.** The new output is written into a hidden sibling (``.NAME.mlmroi-new.TOKEN``), its
  marker last, then swapped with the old folder in one atomic ``renameat2(RENAME_EXCHANGE)``; where the
  filesystem cannot exchange, two renames through ``.NAME.mlmroi-old.TOKEN``, and a kill between them is
  repaired by the next run into the same place (it finishes the swap). Leftovers of killed runs are
  removed by that next run.
* **One writer at a time.** A lock file beside the folder (``.NAME.mlmroi-lock``, ``flock``) is held from
  the checks to the swap; a second run into the same place waits for it.
* **Permissions** follow the umask, or copy the mode (and group) of the folder being replaced.

Single-file outputs (``explain --out``, ``simulate --json``) follow the same idea: a suffix the writer
knows, never an input, an existing file only if it is recognisably an earlier output of the same command,
written beside it and renamed into place.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlmroi.errors import OutputError

MARKER = ".mlmroi"
Kind = Literal["output", "dataset"]

_TABLE_OUTPUTS = (
    "participants",
    "commissions",
    "rejects",
    "segments",
    "income_disclosure",
    "surveys",
    "leads",
    "holdout",
)
#: every file name a folder of each kind may hold (besides the marker)
KNOWN_FILES: dict[Kind, frozenset[str]] = {
    "output": frozenset(
        [f"{t}.{ext}" for t in _TABLE_OUTPUTS for ext in ("parquet", "csv")]
        + ["run.json", "report.html", "timings.json", "migrations.parquet", "members.parquet"]
    ),
    "dataset": frozenset(
        [
            f"{t}.{ext}"
            for t in ("participants", "orders", "costs", "events", "leads")
            for ext in ("csv", "parquet")
        ]
        + ["mlmroi.toml"]
    ),
}
_WHAT: dict[Kind, str] = {
    "output": "an mlmroi output folder",
    "dataset": "a dataset written by mlmroi generate",
}

_SYSTEM = (
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt",
    "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var",
    "/var/tmp", "/Users", "/Applications", "/Library", "/System", "/private", "/private/tmp", "/Volumes",
)  # fmt: skip


def protected_reason(path: Path) -> str | None:
    """Why ``path`` (resolved) is a folder mlmroi never replaces: a system folder or someone's home."""
    if path in {Path(p) for p in _SYSTEM} | {Path(p).resolve() for p in _SYSTEM}:  # /tmp may be a link
        return "is a system folder"
    homes = {Path.home()}
    with contextlib.suppress(OSError, KeyError):
        homes |= {Path(entry.pw_dir) for entry in pwd.getpwall() if entry.pw_uid == 0 or entry.pw_uid >= 1000}
    if "HOME" in os.environ:
        homes.add(Path(os.environ["HOME"]))
    if any(path == _resolve(home) for home in homes):
        return "is a home folder"
    return None


def _resolve(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable component
        raise OutputError(f"{path}: cannot resolve the path ({exc})") from None


def _input_reason(path: Path, inputs: Iterable[Path]) -> str | None:
    for item in inputs:
        real = _resolve(Path(item))
        if path == real:
            return "is an input of this run" + ("" if Path(item).name == path.name else f" ({item})")
        if path in real.parents:
            return f"contains an input of this run ({item})"
    return None


def _only_known(folder: Path, kind: Kind) -> list[str]:
    """Entries of ``folder`` that are not plain files of a name mlmroi writes for ``kind`` (or the marker)."""
    foreign = []
    for name in sorted(os.listdir(folder)):
        entry = folder / name
        if (name != MARKER and name not in KNOWN_FILES[kind]) or entry.is_symlink() or not entry.is_file():
            foreign.append(name + ("/" if entry.is_dir() and not entry.is_symlink() else ""))
    return foreign


def _foreign(folder: Path, kind: Kind) -> list[str]:
    """Why ``folder`` is not a finished output of ``kind``: the entries mlmroi did not write there (none
    for an empty folder or one holding its marker and only the files that marker lists)."""
    entries = sorted(os.listdir(folder))
    if not entries:
        return []
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return entries  # no readable marker: nothing here is known to be mlmroi's
    if not (isinstance(data, dict) and data.get("kind") == kind and isinstance(data.get("files"), list)):
        return [MARKER]
    listed = {str(name) for name in data["files"]}
    odd = _only_known(folder, kind)
    named = {name.rstrip("/") for name in odd}
    return sorted(odd + [n for n in entries if n != MARKER and n not in listed and n not in named])


def _refusal(label: str, foreign: list[str], kind: Kind) -> str:
    if foreign == [MARKER]:
        return f"{label}: is not {_WHAT[kind]} (its {MARKER} marker is of another kind); choose another path"
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    return (
        f"{label}: holds files mlmroi did not write ({shown}); mlmroi only replaces {_WHAT[kind]}: "
        "choose a new or empty folder"
    )


# -- the lock ---------------------------------------------------------------------------------------------


def _lock(path: Path, on_wait: Callable[[str], None] | None) -> int:
    """Take the exclusive lock beside ``path`` (waiting for another run's), return its descriptor."""
    lock = path.parent / f".{path.name}.mlmroi-lock"
    told = False
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None and not told:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                    on_wait(f"waiting for another mlmroi run (pid {holder}) that is writing {path}")
                    told = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            # The previous holder removes the file as it lets go: hold the lock of the file at the path.
            if os.path.exists(lock) and os.path.samestat(os.fstat(fd), os.stat(lock)):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _unlock(path: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path.parent / f".{path.name}.mlmroi-lock")
    os.close(fd)


# -- swapping folders -------------------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _renameat2 = _libc.renameat2
except (OSError, AttributeError):
    _libc = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the system or filesystem cannot."""
    if _libc is None or os.environ.get("MLMROI_NO_EXCHANGE"):
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _leftovers(path: Path, kind: Kind) -> None:
    """Finish the swap of a run killed between its two renames; remove what killed runs left beside
    ``path`` (only folders holding nothing but files of ``kind``: anything else is left alone)."""
    parent, prefix = path.parent, f".{path.name}.mlmroi-"
    names = sorted(n for n in os.listdir(parent) if n.startswith(prefix))
    if not path.exists():
        for name in names:
            if name.startswith(prefix + "old.") and (parent / name).is_dir():
                new = parent / f"{prefix}new.{name.removeprefix(prefix + 'old.')}"
                finished = new.is_dir() and (new / MARKER).is_file() and not _foreign(new, kind)
                os.rename(new if finished else parent / name, path)
                break
    for name in names:
        leftover = parent / name
        if name.endswith("-lock") or leftover.is_symlink() or not leftover.is_dir():
            continue
        if not _only_known(leftover, kind):
            shutil.rmtree(leftover)


@dataclass
class Claim:
    """An output folder this process holds (locked): write into :attr:`staging`, then :meth:`commit`;
    :meth:`release` (or leaving the ``with`` block) removes an uncommitted staging folder and unlocks."""

    path: Path  # the final location (symlinks resolved)
    staging: Path  # hidden sibling being filled
    kind: Kind
    label: str  # how messages name the location (``--out OUT``)
    _fd: int | None = field(default=None, repr=False)

    def commit(self) -> Path:
        """Mark the staging folder complete and swap it into place; the old output is removed."""
        files = sorted(os.listdir(self.staging))
        unknown = [f for f in files if f not in KNOWN_FILES[self.kind]]
        if unknown:  # a bug in mlmroi, not the user's doing
            raise OutputError(f"{self.label}: internal error: {unknown} are not files mlmroi may write")
        # Checked again: a file put into the old output while the run computed is the user's now.
        foreign = _foreign(self.path, self.kind) if self.path.is_dir() else []
        if foreign:
            self.release()
            raise OutputError(_refusal(self.label, foreign, self.kind).replace(": holds", ": now holds", 1))
        try:
            marker = {"written_by": "mlmroi", "kind": self.kind, "files": files}
            (self.staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
            if not self.path.exists():
                os.rename(self.staging, self.path)
            elif _exchange(self.staging, self.path):
                shutil.rmtree(self.staging)  # it holds the old output now
            else:
                self._swap_by_renames()
        except OSError as exc:
            raise OutputError(f"{self.label}: cannot write there ({os_reason(exc)})") from None
        finally:
            self.release()
        return self.path

    def _swap_by_renames(self) -> None:
        token = self.staging.name.rsplit(".", 1)[-1]
        old = self.path.parent / f".{self.path.name}.mlmroi-old.{token}"
        os.rename(self.path, old)
        try:
            os.rename(self.staging, self.path)
        except OSError:
            os.rename(old, self.path)
            raise
        shutil.rmtree(old)

    def release(self) -> None:
        """Remove the staging folder unless it was committed, and let go of the lock."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.staging)
        if self._fd is not None:
            _unlock(self.path, self._fd)
            self._fd = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _label(out: str | Path, path: Path, label: str) -> str:
    """How messages name the location: as the user wrote it, and where a symlink led."""
    label = label or f"--out {out}"
    if os.path.abspath(Path(out).expanduser()) != str(path):
        label += f" (through a symlink: {path})"
    return label


def check_folder(out: str | Path, inputs: Iterable[Path] = (), label: str = "") -> tuple[Path, str]:
    """The checks that read nothing but the path: the resolved folder and how messages name it, or
    :class:`OutputError`."""
    path = _resolve(Path(out))
    label = _label(out, path, label)
    reason = protected_reason(path) or _input_reason(path, inputs)
    if reason is None and path.exists() and not path.is_dir():
        reason = "is a file, not a folder"
    if reason is None and path.is_dir() and os.path.ismount(path):
        reason = "is a mount point, which cannot be replaced; write into a folder inside it"
    if reason is not None:
        advice = "" if "write into" in reason else "; choose another path"
        raise OutputError(f"{label}: {reason}{advice}")
    return path, label


def claim_folder(
    out: str | Path,
    kind: Kind = "output",
    inputs: Iterable[Path] = (),
    needed_bytes: int = 0,
    on_wait: Callable[[str], None] | None = None,
    label: str = "",
) -> Claim:
    """Check ``out`` (see the module docstring), lock it, repair what killed runs left there and create
    the staging folder; raise :class:`OutputError` with one line naming the path and the reason."""
    path, label = check_folder(out, inputs, label)
    fd: int | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _lock(path, on_wait)
        _leftovers(path, kind)
        if path.is_dir():
            foreign = _foreign(path, kind)
            if foreign:
                raise OutputError(_refusal(label, foreign, kind))
        staging = path.parent / f".{path.name}.mlmroi-new.{secrets.token_hex(4)}"
        os.mkdir(staging, 0o777)  # the umask applies
        claim = Claim(path, staging, kind, label, fd)
        fd = None
        if path.is_dir():
            _copy_mode(path, staging)
        free = shutil.disk_usage(staging).free
        if needed_bytes > free:
            claim.release()
            raise OutputError(
                f"{label}: about {needed_bytes / 2**20:,.0f} MiB needed, {free / 2**20:,.0f} MiB free "
                "on that disk"
            )
        return claim
    except OSError as exc:
        raise OutputError(f"{label}: cannot write there ({os_reason(exc)})") from None
    finally:
        if fd is not None:
            _unlock(path, fd)


def _copy_mode(source: Path, target: Path) -> None:
    """Give ``target`` the mode and group of the folder it will replace (group: where permitted)."""
    info = source.stat()
    with contextlib.suppress(OSError):
        os.chown(target, -1, info.st_gid)
    with contextlib.suppress(OSError):
        os.chmod(target, stat.S_IMODE(info.st_mode))


def os_reason(exc: BaseException) -> str:
    """The operating system's words for a failed write (``No space left on device``), also when a library
    wrapped them in its own message (``… (os error 28)``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    code = re.search(r"os error (\d+)", text)
    if code:
        return os.strerror(int(code.group(1)))
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


# -- single files -----------------------------------------------------------------------------------------


def claim_file(
    out: str | Path,
    suffixes: tuple[str, ...],
    inputs: Iterable[Path],
    earlier_output: Callable[[Path], bool],
    what: str,
    option: str = "--out",
) -> Path:
    """Check a single-file output: a known suffix, not an input nor inside an input folder, and — when it
    exists — a file ``earlier_output`` recognises as written by the same command; the resolved path."""
    path = _resolve(Path(out))
    reason = None
    if path.suffix.lower() not in suffixes:
        reason = f"must end in {' or '.join(suffixes)} (the suffix sets the format)"
    else:
        for item in inputs:
            real = _resolve(Path(item))
            if path == real or (real.is_dir() and path.parent == real):
                reason = (
                    f"would write into {'the input' if path == real else 'the folder of the input'} {item}"
                )
                break
    if reason is None and path.exists():
        if not path.is_file():
            reason = "exists and is not a file"
        elif not earlier_output(path):
            reason = f"exists and is not an earlier {what}; mlmroi never overwrites a file it did not write"
    if reason is not None:
        raise OutputError(f"{option} {out}: {reason}; choose another path")
    return path


@contextlib.contextmanager
def replacing(path: Path, option: str = "--out") -> Iterator[Path]:
    """Yield a hidden sibling of ``path`` to write; it replaces ``path`` in one rename when the block ends
    without error, and is removed otherwise (leftovers of killed writers go on the next write)."""
    prefix = f".{path.name}.mlmroi-file."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(path.parent):
            if name.startswith(prefix) and (path.parent / name).is_file():
                (path.parent / name).unlink()
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot write there ({os_reason(exc)})") from None
    staging = path.parent / f"{prefix}{secrets.token_hex(4)}{path.suffix}"
    try:
        yield staging
        os.replace(staging, path)
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot write there ({os_reason(exc)})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
