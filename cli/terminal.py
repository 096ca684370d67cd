"""What the command line prints, made safe: data never reaches the terminal as control sequences, a
console that cannot show Unicode gets ASCII, and every failure is one line with a documented exit code.

Exit codes: 0 ok; 1 data problems (``--strict``, ``validate``, a model that cannot be fitted); 2 usage,
config, input, output and environment problems (a full disk, no permission, out of memory); 3 an internal
error (a bug: ``MLMROI_DEBUG=1`` shows its traceback); 130 interrupted.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
import polars as pl
import typer
from rich.console import Console
from rich.status import Status
from rich.text import Text

from mlmroi.errors import MlmRoiError
from mlmroi.report.format import shown
from mlmroi_cli.supervise import MEMORY_ADVICE

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def T(value: object, style: str = "") -> Text:  # noqa: N802 - short: it wraps every printed value
    """A rich Text of data: control characters escaped, never read as markup."""
    return Text(shown(value), style=style)


def say(console: Console, *parts: object) -> None:
    """Print one line of data (escaped, no markup, no highlighting, wrapped as it comes)."""
    console.print(T("".join(str(p) for p in parts)), soft_wrap=True)


# -- consoles that cannot show Unicode --------------------------------------------------------------------

_ASCII = {
    "—": "-", "–": "-", "…": "...", "×": "x", "≥": ">=", "≤": "<=", "→": "->", "·": "-", "’": "'", "‘": "'",
    "“": '"', "”": '"', "−": "-", "±": "+/-", "€": "EUR",
}  # fmt: skip


def _to_ascii(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(_ASCII.get(c) or f"\\u{ord(c):04x}" for c in text), error.end


codecs.register_error("mlmroi-ascii", _to_ascii)


def _unicode(encoding: str | None) -> bool:
    return (encoding or "utf-8").lower().replace("_", "-").startswith("utf")


def fit_streams() -> None:
    """On a console whose encoding cannot show everything (``PYTHONIOENCODING=ascii``, a Latin-1
    terminal), what it cannot show is written in ASCII (``—`` as ``-``) or as an escape (``é`` as
    ``\\u00e9``), never an error."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if not _unicode(getattr(stream, "encoding", None)) and reconfigure is not None:
            reconfigure(errors="mlmroi-ascii")


def status(text: str) -> Status:
    """A spinner on stderr (ASCII where the console is not Unicode)."""
    return err.status(text, spinner="dots" if _unicode(err.encoding) else "line")


#: how much the command line says: -1 quiet (warnings, errors and where it wrote), 0 normal, 1 verbose
VERBOSITY = {"level": 0}


class Stages:
    """Progress through a run's stages on stderr: on a terminal a spinner naming the stage with the time
    since the start; otherwise (piped, logged) — or always with ``--verbose`` — one plain line per stage as
    it begins (``  3.1 s  segments``); the total at the end. Nothing with ``--quiet``."""

    def __init__(self, what: str) -> None:
        self.first = what  # the spinner's first text and the total's name ("scoring took 3.1 s")
        self.level = VERBOSITY["level"]
        self.lines = self.level > 0 or not err.is_terminal
        self.spinner: Status | None = None
        self.began = 0.0

    def __enter__(self) -> Stages:
        import time

        self.began = time.perf_counter()
        if self.level >= 0 and not self.lines:
            self.spinner = status(f"{self.first}…")
            self.spinner.__enter__()
        return self

    def elapsed(self) -> float:
        import time

        return time.perf_counter() - self.began

    def stage(self, name: str) -> None:
        """A stage begins."""
        if self.level < 0:
            return
        if self.spinner is not None:
            self.spinner.update(f"{name}… ({self.elapsed():.1f} s)")
        else:
            err.print(T(f"{self.elapsed():7.1f} s  {name}"), soft_wrap=True)

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if self.spinner is not None:
            self.spinner.__exit__(kind, value, traceback)  # type: ignore[arg-type]
        if kind is None and self.level >= 0:
            err.print(T(f"{self.first} took {self.elapsed():.1f} s"), soft_wrap=True)


# -- one line per failure ---------------------------------------------------------------------------------


def fail(exc: MlmRoiError) -> typer.Exit:
    """Print each problem of ``exc`` as ``error: …`` and return the exit to raise."""
    for line in exc.problems:
        err.print(Text.assemble(("error: ", "red"), shown(line)), soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return shown(text.splitlines()[0] if text else type(exc).__name__)


#: how native libraries say that memory (or a thread's stack) could not be had
_NO_MEMORY = (
    "can't start new thread",
    "could not spawn threads",
    "Resource temporarily unavailable",  # EAGAIN from a thread's creation: no memory for its stack
    "memory allocation",
    "Cannot allocate memory",
)


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return True
    native = isinstance(exc, RuntimeError | pl.exceptions.PanicException)
    return native and any(words in str(exc) for words in _NO_MEMORY)


def _environment_error(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code of a failure that is not a bug in mlmroi, or None."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130
    if isinstance(exc, SystemError):  # C code that failed without saying why: under pressure, memory
        return (
            f"a native library failed ({_one_line(exc)}), most often because memory ran out; {MEMORY_ADVICE}",
            2,
        )
    if _out_of_memory(exc):
        return f"out of memory: this run needs more memory than is free; {MEMORY_ADVICE}", 2
    if isinstance(exc, UnicodeError):
        return (
            f"cannot encode text for this console or file ({_one_line(exc)}); set PYTHONIOENCODING=utf-8",
            2,
        )
    if isinstance(exc, OSError):
        where = f"{shown(exc.filename)}: " if exc.filename else ""
        return f"{where}{exc.strerror or _one_line(exc)}", 2
    return None


#: exits and usage errors that typer (or click, in older typer versions) reports itself
_PASS_THROUGH = (
    typer.Exit,
    typer.Abort,
    typer.exceptions.TyperException,
    click.exceptions.Exit,
    click.exceptions.Abort,
    click.ClickException,
)

P = ParamSpec("P")
R = TypeVar("R")


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command so that nothing ends in a traceback: mlmroi's own errors print their lines, the
    environment's (OSError, MemoryError, UnicodeError, Ctrl-C) one line with exit 2 (130), anything else
    one line naming it an internal error (exit 3). ``MLMROI_DEBUG=1`` lets the traceback through."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        fit_streams()
        try:
            return command(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except MlmRoiError as exc:
            if os.environ.get("MLMROI_DEBUG"):
                raise
            raise fail(exc) from None
        except (Exception, KeyboardInterrupt, pl.exceptions.PanicException) as exc:
            if os.environ.get("MLMROI_DEBUG"):
                raise
            known = _environment_error(exc)
            message, code = known or (
                f"internal error ({type(exc).__name__}: {_one_line(exc)}); please report it with the "
                "traceback that MLMROI_DEBUG=1 shows",
                3,
            )
            # stderr itself may be gone or unusable: then the exit code alone says it
            with contextlib.suppress(OSError, UnicodeError):
                err.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
            raise typer.Exit(code) from None

    return run
