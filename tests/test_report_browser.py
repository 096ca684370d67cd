"""report.html in a real browser (headless Chromium, tests/browser.py): no horizontal overflow at 1280 px nor
on a 390 px phone, every section laid out, full-page screenshots at both widths, and a printed PDF whose text
holds every heading and the whole segment table (its ROI % and last columns and the 'all' row's figures).

Headings, sections and the segment table are read from the page itself, so the checks follow the report
whatever its layout. Skipped, saying why, only when no Chromium is installed."""

from __future__ import annotations

import dataclasses
import unicodedata
import zlib
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from tests.browser import MAX_HEIGHT, Measure, browser, find_chromium, pdf_text, png_size

if find_chromium() is None:
    pytest.skip(
        "browser tests need Chromium (apt-get install chromium, or set MLMROI_TEST_CHROMIUM)",
        allow_module_level=True,
    )

DESKTOP, PHONE = 1280, 390
ROI_HEADING = "ROI %"


class Outline(HTMLParser):
    """What the page says it has: section ids, h2 texts, and every table's headings and rows (cell texts)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.headings: list[str] = []
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._h2: list[str] | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._head_row = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.sections.append(dict(attrs).get("id") or "")
        elif tag == "h2":
            self._h2 = []
        elif tag == "table":
            self.tables.append(([], []))
        elif tag == "tr" and self.tables:
            self._row, self._head_row = [], False
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._head_row |= tag == "th" and not self.tables[-1][0] and not self.tables[-1][1]

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._h2 is not None:
            self.headings.append(" ".join("".join(self._h2).split()))
            self._h2 = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            heads, rows = self.tables[-1]
            if self._head_row:
                heads.extend(self._row)
            else:
                rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        for part in (self._h2, self._cell):
            if part is not None:
                part.append(data)


@dataclasses.dataclass
class Rendered:
    out: Path
    html: str
    outline: Outline
    desktop: Measure
    phone: Measure
    shots: dict[int, tuple[Path, Measure]]
    pdf: Path
    pdf_text: str


@pytest.fixture(scope="module")
def rendered(scored_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The sample's report measured at both widths, screenshot at both and printed, in one Chromium."""
    page = scored_sample / "report.html"
    folder = tmp_path_factory.mktemp("browser")
    with browser() as chromium:
        chromium.open(page)
        desktop = chromium.measure(DESKTOP)
        phone = chromium.measure(PHONE, mobile=True)
        shots = {
            DESKTOP: (folder / "report-1280.png", chromium.screenshot(folder / "report-1280.png", DESKTOP)),
            PHONE: (
                folder / "report-390.png",
                chromium.screenshot(folder / "report-390.png", PHONE, mobile=True),
            ),
        }
        chromium.pdf(folder / "report.pdf")
    html = page.read_text(encoding="utf-8")
    return Rendered(
        scored_sample,
        html,
        Outline(html),
        desktop,
        phone,
        shots,
        folder / "report.pdf",
        pdf_text(folder / "report.pdf"),
    )


def squash(text: str) -> str:
    """Text compared across HTML and PDF: NFKC, every whitespace removed (line breaks fall anywhere)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def overflow_message(page: Measure) -> str:
    widened = ", ".join(
        f"{c['element']}{'' if c['count'] == 1 else ' ×' + str(c['count'])} to {c['right']} px"
        for c in page.culprits
    )
    return (
        f"at {page.width} px{' (phone)' if page.mobile else ''} the page is {page.scroll_width} px wide in a "
        f"{page.client_width} px viewport; widened by: {widened or 'nothing found'}"
    )


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_no_horizontal_overflow(rendered: Rendered, width: int) -> None:
    page = rendered.desktop if width == DESKTOP else rendered.phone
    viewport, wide = page.client_width, page.scroll_width
    assert width * 0.9 < viewport <= width  # the viewport asked for (less a desktop scrollbar)
    assert wide <= viewport, overflow_message(page)


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_every_section_is_laid_out(rendered: Rendered, width: int) -> None:
    page = rendered.desktop if width == DESKTOP else rendered.phone
    outline = rendered.outline
    assert outline.headings, "the page has no h2 headings"
    if outline.sections:
        assert page.sections and [b.id for b in page.blocks] == outline.sections
    else:
        assert not page.sections and [b.heading.strip() for b in page.blocks] == outline.headings
    hidden = [(b.id or b.heading, b.height, b.display, b.visibility) for b in page.blocks if not b.rendered]
    assert not hidden, f"at {width} px, not rendered: {hidden}"
    tops = [b.top for b in page.blocks]
    assert tops == sorted(tops) and tops[-1] + page.blocks[-1].height <= page.page_height + 1


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_full_page_screenshot(rendered: Rendered, width: int) -> None:
    path, page = rendered.shots[width]
    assert path.is_file() and path.stat().st_size > 0
    assert png_size(path) == (width, min(page.page_height, MAX_HEIGHT))
    data = path.read_bytes()
    pixels, at = b"", 8
    while at < len(data):  # the IDAT chunks' compressed pixels
        length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        pixels += data[at + 8 : at + 8 + length] if kind == b"IDAT" else b""
        at += 12 + length
    assert len(set(zlib.decompress(pixels)[::97])) > 8  # not a blank page


def segment_table(outline: Outline) -> tuple[list[str], list[str]]:
    """The segment-effectiveness table's headings and its 'all' row (the one table with both)."""
    for heads, rows in outline.tables:
        if ROI_HEADING in heads:
            for row in rows:
                if len(row) == len(heads) and row[0] == "all":
                    return heads, row
    raise AssertionError(f"no table with a {ROI_HEADING!r} heading and an 'all' row in the report")


def test_all_row_roi_is_segments_parquet_value(rendered: Rendered) -> None:
    heads, row = segment_table(rendered.outline)
    shown = row[heads.index(ROI_HEADING)]
    segments = pl.read_parquet(rendered.out / "segments.parquet")
    roi = segments.filter(pl.col("segmentation") == "all")["roi_pct"].item()
    digits = len(shown.partition(".")[2])
    assert shown == f"{roi:,.{digits}f}"
    assert abs(Decimal(shown.replace(",", "")) - Decimal(repr(roi))) <= Decimal(5) / 10 ** (digits + 1)


def test_pdf_has_every_heading(rendered: Rendered) -> None:
    text = squash(rendered.pdf_text)
    assert rendered.pdf.read_bytes().startswith(b"%PDF-")
    missing = [h for h in rendered.outline.headings if squash(h) not in text]
    assert not missing, f"h2 headings not in the PDF's text: {missing}"


def printed_segment_table(rendered: Rendered) -> tuple[list[str], list[str], str, str]:
    """The segment table's headings and 'all' row, and the PDF's text (squashed) of its header and from its
    'all' row on."""
    heads, row = segment_table(rendered.outline)
    text = squash(rendered.pdf_text)
    start = text.find(squash(row[0] + row[1]))  # where the body starts; the header is just before it
    assert start > 0, f"the 'all' row's start {row[:2]} is not in the PDF's text"
    first = next(squash(h.split()[0]) for h in heads if h.strip())
    header_at = text.rfind(first, 0, start)
    assert header_at >= 0, f"the segment table's first heading {first!r} is not printed"
    return heads, row, text[header_at:start], text[start:]


def test_pdf_prints_the_segment_table_headings(rendered: Rendered) -> None:
    """The ROI % and last headings of the segment table are in its printed header (a table wider than the
    paper is cut off at its right edge, and so is its text)."""
    heads, _, header, _ = printed_segment_table(rendered)

    def printed(heading: str) -> bool:  # whole, or word by word when the cell wraps
        return squash(heading) in header or all(squash(word) in header for word in heading.split())

    missing = [h for h in (ROI_HEADING, heads[-1]) if not printed(h)]
    assert not missing, f"segment table headings {missing} not printed; the PDF's header reads {header!r}"


def test_pdf_prints_the_all_row_through_its_last_column(rendered: Rendered) -> None:
    """The 'all' row reads, in order, cell by cell through the last column: its ROI % figure included."""
    _, row, _, body = printed_segment_table(rendered)
    expected = squash("".join(row))
    got = body[: len(expected) + 20]
    assert got.startswith(expected), f"the 'all' row {row} prints as {got!r}"
