"""Reading the CSV files companies export: encoding, separator, header and ragged rows.

- **Encoding**: UTF-8 with or without a byte-order mark; UTF-16 when the file starts with its byte-order mark;
  anything else only when named (``[input] encoding = "latin-1"``, or ``cp1252``). A file that is not valid
  in its encoding is one clear error naming the setting to change.
- **Separator**: one of ``, ; TAB |``, detected from the header and the first lines (the candidate that
  splits the header into the most columns, with the first data lines agreeing), or named in
  ``[input] separator``.
- **Header**: a column name given twice is a structural error naming it (a file cannot say which one is
  meant); a header that comes out as a single column although it contains a separator gets a hint.
- **Ragged rows**: a row with more or fewer fields than the header is not read into the table; it becomes a
  reject with its row number (:attr:`CsvText.ragged`). Quoted fields are honoured; a file whose quoted
  fields span lines is checked record by record.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from mlmroi._numba import kernel
from mlmroi.errors import InputError

SEPARATORS = (",", ";", "\t", "|")
Encoding = Literal["utf-8", "utf-16", "latin-1", "cp1252"]
_SAMPLE_BYTES = 1 << 16
_SAMPLE_LINES = 20
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class CsvOptions:
    """``[input]``: how CSV files are written; ``None`` = detect."""

    separator: str | None = None
    encoding: Encoding | None = None
    decimal_comma: bool | None = (
        None  # None: per column, a comma is the decimal mark only when no cell has a dot
    )
    date_format: str | None = None  # strftime format of dates (default: ISO YYYY-MM-DD)


@dataclass(frozen=True, eq=False)
class CsvText:
    """A CSV file read as text: every column a String; ragged rows are left out (their 1-based data row
    numbers and field counts are in ``ragged``), so ``frame`` row ``i`` is data row ``kept[i]``."""

    frame: pl.DataFrame
    rows: int  # data rows in the file, ragged ones included
    separator: str
    options: CsvOptions  # as given ([input]); the parsers read date_format and decimal_comma from it
    ragged: dict[int, int] = field(default_factory=dict)  # data row -> number of fields
    kept: np.ndarray | None = None  # data row numbers of the frame's rows when some were left out


def _decode(path: Path, label: str, encoding: Encoding | None) -> tuple[bytes | Path, str]:
    """The file's content as UTF-8 (the path itself when it already is) and the encoding found."""
    with path.open("rb") as handle:
        head = handle.read(4)
    codec: str | None = encoding
    if encoding is None and head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        codec = "utf-16"
    elif encoding in (None, "utf-16") and len(head) == 4 and head[1] == head[3] == 0 and head[0] and head[2]:
        codec = "utf-16-le"  # no byte-order mark, but ASCII text with a zero byte after each character
    elif encoding in (None, "utf-16") and len(head) == 4 and head[0] == head[2] == 0 and head[1] and head[3]:
        codec = "utf-16-be"
    if codec in (None, "utf-8"):
        return path, "utf-8"
    assert codec is not None
    try:
        text = path.read_bytes().decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{label}: not valid {codec} text (byte {exc.start}); check [input] encoding"
        ) from None
    return text.lstrip("\ufeff").encode("utf-8"), codec


@dataclass(frozen=True)
class Header:
    """A CSV file's header as a run reads it: the column names, the separator, and the lines before it
    (1 after Excel's ``sep=;`` line, else 0)."""

    names: list[str]
    separator: str
    skip: int


def header_of(lines: list[str], label: str, separator: str | None = None) -> Header:
    """The header of a CSV file from its first lines (:func:`sample_lines`): Excel's ``sep=;`` line, the
    separator (``separator``, else detected), the names checked; an empty file is an InputError."""
    if not lines or not lines[0].strip():
        raise InputError(f"{label}: the file is empty (no header)")
    skip, named = 0, separator
    if len(lines[0]) == 5 and lines[0].lower().startswith("sep=") and lines[0][4] in SEPARATORS:
        skip, named, lines = 1, named or lines[0][4], lines[1:]  # Excel's "sep=;" line names the separator
        if not lines:
            raise InputError(f"{label}: the file is empty (no header)")
    chosen = named or _detect(lines)
    names = _fields(lines[0], chosen)
    _check_header(names, label, chosen, separator is not None)
    return Header(names, chosen, skip)


def decoded(path: Path, label: str, encoding: Encoding | None = None) -> bytes | Path:
    """The file's content as UTF-8: the path itself when it already is, else the decoded bytes."""
    return _decode(path, label, encoding)[0]


def sample_lines(source: bytes | Path, label: str) -> list[str]:
    """The first lines of a UTF-8 source (:func:`decoded`), for the header and separator; text that is
    not UTF-8 is an InputError."""
    if isinstance(source, bytes):
        raw = source[:_SAMPLE_BYTES]
    else:
        with source.open("rb") as handle:
            raw = handle.read(_SAMPLE_BYTES)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    text = raw.decode("utf-8", errors="replace")
    if "\ufffd" in text[:-4]:
        raise InputError(
            f'{label}: not valid UTF-8 text; set [input] encoding (e.g. "latin-1" or "cp1252") to the '
            "file's encoding"
        )
    lines = text.splitlines()
    if len(raw) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    return lines[: _SAMPLE_LINES + 1]


def _fields(line: str, separator: str) -> list[str]:
    return next(csv.reader([line], delimiter=separator), [])


def _detect(lines: list[str]) -> str:
    """The separator that gives the header the most columns, the sampled rows agreeing with it."""
    best, best_score = ",", (0, 0)
    for sep in SEPARATORS:
        header = len(_fields(lines[0], sep)) if lines else 0
        agree = sum(1 for line in lines[1:] if line and len(_fields(line, sep)) == header)
        score = (header if header > 1 else 0, agree)
        if score > best_score:
            best, best_score = sep, score
    return best


def _check_header(names: list[str], label: str, separator: str, explicit: bool) -> None:
    twice = [name for name, count in Counter(names).items() if count > 1 and name.strip()]  # not unnamed
    if twice:
        raise InputError(
            [f"{label}: column {name!r} appears {names.count(name)} times in the header" for name in twice]
        )
    if len(names) == 1:
        inside = [sep for sep in SEPARATORS if sep != separator and sep in names[0]]
        if inside or separator in names[0]:
            which = _NAMES[inside[0]] if inside else _NAMES[separator]
            how = "the separator was set in [input] separator" if explicit else "no separator was detected"
            raise InputError(
                f"{label}: the header is one column {names[0]!r} containing a {which} ({how}); is the whole "
                "header quoted? Otherwise set [input] separator to the file's separator"
            )


@kernel
def _ragged_records(data, separator, expected, skip, found_at, found_n):  # type: ignore[no-untyped-def]
    """One pass over the bytes (RFC 4180 quoting: separators and line breaks inside quotes belong to the
    field): the data records (after the header) whose field count is not ``expected``, as (record index,
    fields) into ``found_at`` and ``found_n`` as far as they reach; an empty line is not ragged (it reads as
    a row of empty cells). Returns how many there are and the number of records."""
    found = 0
    record = -1 - skip  # the header is record -1 (after ``skip`` lines such as Excel's "sep=;")
    fields = 1
    start = 0  # where the current record began
    quoted = False
    n = data.shape[0]
    for i in range(n + 1):
        if i < n:
            byte = data[i]
            if byte == 34:  # a quote
                quoted = not quoted
                continue
            if quoted:
                continue
            if byte == separator:
                fields += 1
                continue
            if byte != 10:
                continue
        elif start == n:
            break  # the file ended with a line break
        end = i - 1 if i > start and data[i - 1] == 13 else i  # a CR before the LF is not content
        if record >= 0 and end > start and fields != expected:
            if found < found_at.shape[0]:
                found_at[found] = record
                found_n[found] = fields
            found += 1
        record += 1
        fields = 1
        start = i + 1
    return found, record


def _ragged(
    source: bytes | Path, separator: str, expected: int, skip: int = 0
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`_ragged_records` over a file (mapped, not read) or bytes."""
    if isinstance(source, bytes):
        data = np.frombuffer(source, dtype=np.uint8)
    elif source.stat().st_size == 0:
        data = np.zeros(0, dtype=np.uint8)
    else:
        data = np.memmap(source, dtype=np.uint8, mode="r")
    room = 1024
    while True:  # a second pass only when more than ``room`` records are ragged
        at, fields = np.empty(room, dtype=np.int64), np.empty(room, dtype=np.int64)
        found, records = _ragged_records(data, np.uint8(ord(separator)), expected, skip, at, fields)
        if found <= room:
            return at[:found], fields[:found], int(records)
        room = int(found)


def read_csv_text(path: Path, options: CsvOptions) -> CsvText:
    """Read a CSV file as text columns (module docstring); structural problems raise InputError."""
    label = path.name
    source, _ = _decode(path, label, options.encoding)
    header = header_of(sample_lines(source, label), label, options.separator)
    names, separator, skip = header.names, header.separator, header.skip
    read = {"separator": separator, "infer_schema": False, "raise_if_empty": False, "encoding": "utf8"}
    read["skip_lines"] = skip
    try:  # a row with too many fields makes the strict read fail
        frame = pl.read_csv(source, truncate_ragged_lines=False, **read)  # type: ignore[arg-type]
        longer = False
    except pl.exceptions.ComputeError:
        frame = pl.read_csv(source, truncate_ragged_lines=True, **read)  # type: ignore[arg-type]
        longer = True
    # A row with too few fields leaves its last cells empty: only then is the file scanned record by record.
    whole = CsvText(frame, frame.height, separator, options)
    if not longer and (frame.width == 0 or frame[frame.columns[-1]].null_count() == 0):
        return whole
    at, fields, records = _ragged(source, separator, len(names), skip)
    if not at.size:
        return whole
    if records != frame.height:  # cannot line rows up with records: refuse rather than guess
        raise InputError(f"{label}: rows with a wrong number of fields (first: row {int(at[0]) + 1})")
    ragged = {int(r) + 1: int(f) for r, f in zip(at.tolist(), fields.tolist(), strict=True)}
    keep = np.ones(frame.height, dtype=bool)
    keep[at] = False
    kept = np.flatnonzero(keep) + 1
    kept_frame = frame.filter(pl.Series(keep))
    return CsvText(kept_frame, frame.height, separator, options, ragged, kept)
