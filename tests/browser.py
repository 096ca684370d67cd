"""A headless Chromium for the report's browser tests: measure a page at a viewport width, screenshot it to
PNG, print it to PDF and read the PDF's text back.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages ending
in a NUL byte on file descriptors 3 and 4), so no extra package is needed and the viewport is exactly the
width asked for: the command line's ``--window-size`` cannot go below 500 px in today's headless mode and
takes the window's frame off the height, which would measure a 390 px phone as a 500 px window. The page
itself is loaded unchanged (a report has no scripts; the measurement runs from outside the page).

The binary is the first of ``chromium``, ``chromium-browser``, ``google-chrome`` on the PATH, or
``MLMROI_TEST_CHROMIUM``. It runs with ``--no-sandbox`` (as root, and in containers without user
namespaces, Chromium's sandbox will not start) in a temporary profile. The PDF's text is read with pypdf (the
``test`` extra).

Refresh a screenshot (docs/report.md)::

    python -m tests.browser mlmroi-out/report.html docs/report-1280.png --width 1280 --max-height 2400
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 60.0  # seconds for one browser start or one DevTools command
MAX_HEIGHT = 16_000  # px: the tallest full-page screenshot (a longer page is cut to its top)
PAPER = {"a4": (8.27, 11.69), "letter": (8.5, 11.0)}  # inches

#: Runs in the page (DevTools ``Runtime.evaluate``): the document's size, every section's (or, in a page
#: without sections, every h2's) box, and the outermost elements that stick out of the viewport on the
#: right without a scrolling or clipping ancestor, i.e. the ones that widen the page.
MEASURE = r"""
(() => {
  const root = document.documentElement, body = document.body;
  const width = root.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (typeof e.className === "string" && e.className.trim() ? "." + e.className.trim().split(/\s+/).join(".") : "");
  const shown = (e) => {
    const style = getComputedStyle(e), box = e.getBoundingClientRect();
    return {id: e.id || "", heading: ((e.tagName === "H2" ? e : e.querySelector("h2")) || {}).textContent || "",
            top: box.top + scrollY, height: box.height, width: box.width, right: box.right + scrollX,
            display: style.display, visibility: style.visibility};
  };
  const sections = [...document.querySelectorAll("section")];
  const blocks = (sections.length ? sections : [...document.querySelectorAll("h2")]).map(shown);
  const clips = (e) => {
    for (let a = e.parentElement; a && a !== body && a !== root; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return true;
    }
    return false;
  };
  const wide = new Set([...body.querySelectorAll("*")].filter(
    (e) => e.getBoundingClientRect().right + scrollX > width + 0.5 && !clips(e)));
  const seen = new Map();  // the same element name and edge once, with how many there are
  for (const e of [...wide].filter((e) => !wide.has(e.parentElement))) {
    const box = e.getBoundingClientRect(), right = Math.round(box.right + scrollX), key = name(e) + " " + right;
    if (seen.has(key)) seen.get(key).count += 1;
    else seen.set(key, {element: name(e), right: right, width: Math.round(box.width), count: 1});
  }
  const culprits = [...seen.values()].sort((a, b) => b.right - a.right).slice(0, 10);
  return {viewport_width: innerWidth, viewport_height: innerHeight, client_width: width,
          scroll_width: Math.max(root.scrollWidth, body ? body.scrollWidth : 0),
          page_height: Math.ceil(Math.max(root.scrollHeight, body ? body.scrollHeight : 0,
                                          root.getBoundingClientRect().height)),
          blocks: blocks, sections: sections.length > 0, culprits: culprits};
})()
"""


class BrowserError(RuntimeError):
    """Chromium is missing, would not start, or did not answer in time (the message says which)."""


@dataclasses.dataclass(frozen=True)
class Block:
    """One ``<section>`` (or ``<h2>`` in a page without sections) as laid out: its id, its h2's text, its
    box in CSS px from the page's top left, and its computed display and visibility."""

    id: str
    heading: str
    top: float
    height: float
    width: float
    right: float
    display: str
    visibility: str

    @property
    def rendered(self) -> bool:
        return self.height > 0 and self.width > 0 and self.display != "none" and self.visibility == "visible"


@dataclasses.dataclass(frozen=True)
class Measure:
    """A page laid out at one viewport width. ``scroll_width`` > ``client_width`` means a horizontal
    scrollbar: something widens the page (``culprits`` names the outermost such elements and where their
    right edge is)."""

    width: int
    mobile: bool
    viewport_width: int
    viewport_height: int
    client_width: int
    scroll_width: int
    page_height: int
    sections: bool  # the blocks are <section> elements (False: <h2> elements)
    blocks: tuple[Block, ...]
    culprits: tuple[dict[str, Any], ...]

    @property
    def overflows(self) -> bool:
        return self.scroll_width > min(self.client_width, self.width)


def find_chromium() -> str | None:
    """The Chromium binary: ``MLMROI_TEST_CHROMIUM`` if set, else the first candidate on the PATH."""
    given = os.environ.get("MLMROI_TEST_CHROMIUM")
    if given:
        return shutil.which(given) or (given if Path(given).is_file() else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium and one page in it, driven over the DevTools pipe. Use :func:`browser`."""

    def __init__(self, binary: str, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self.profile = Path(tempfile.mkdtemp(prefix="mlmroi-chromium-"))
        self.log = self.profile / "stderr.log"
        self._next = 0
        self._buffer = b""
        self.session = ""
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def on_fds_3_and_4() -> None:  # in the child, before exec: the pipe ends where Chromium wants them
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child, from_child)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)
            for fd in high:
                os.close(fd)

        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",  # containers often have a small /dev/shm
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--force-color-profile=srgb",
            "about:blank",
        ]
        with self.log.open("wb") as log:
            try:
                self.process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    preexec_fn=on_fds_3_and_4,
                    close_fds=False,
                    start_new_session=True,
                )
            except OSError as exc:
                self._close_fds(to_child, from_child, self._read, self._write)
                self._discard()
                raise BrowserError(f"cannot start {binary}: {exc}") from None
        os.close(to_child)
        os.close(from_child)
        try:
            self.version = self.call("Browser.getVersion")["product"]
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.call("Page.enable")
        except BaseException:
            self.close()
            raise

    # --- the DevTools pipe ---------------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command (to the page once attached) and return its result."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        try:
            os.write(self._write, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise BrowserError(f"Chromium went away ({exc}): {self._log_tail()}") from None
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") != self._next:
                continue  # an event, or the reply to an earlier command that timed out
            if "error" in reply:
                raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
            return dict(reply.get("result", {}))

    def _receive(self, deadline: float, method: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer {method} within {self.timeout:g} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited during {method}: {self._log_tail()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def _log_tail(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        text = self.log.read_text(errors="replace").strip() if self.log.exists() else ""
        return f"exit code {self.process.returncode}: {text[-600:] or '(no output)'}"

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise BrowserError(
                f"page script failed: {details.get('exception', {}).get('description', details)}"
            )
        return reply["result"].get("value")

    # --- the page ------------------------------------------------------------------------------------

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        """Lay the page out in a ``width`` × ``height`` CSS px viewport at 1 device px per CSS px;
        ``mobile``: as a phone does (the page's meta viewport honoured, overlay scrollbars, touch)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
            screenWidth=width,
            screenHeight=height,
        )
        self.call("Emulation.setTouchEmulationEnabled", enabled=mobile)

    def open(self, page: str | Path) -> None:
        """Load a file and wait until it and its fonts are complete."""
        path = Path(page).resolve()
        if not path.is_file():
            raise BrowserError(f"{path}: no such file")
        reply = self.call("Page.navigate", url=path.as_uri())
        if reply.get("errorText"):
            raise BrowserError(f"{path}: {reply['errorText']}")
        self._settle(f"loading {path.name}", path.as_uri())

    def _settle(self, what: str, url: str = "") -> None:
        deadline = time.monotonic() + self.timeout
        ready = "document.readyState === 'complete'"
        if url:
            ready += f" && location.href === {json.dumps(url)}"
        while not self.evaluate(ready):
            if time.monotonic() > deadline:
                raise BrowserError(f"{what}: not complete within {self.timeout:g} s")
            time.sleep(0.05)
        # Fonts loaded and two frames painted, so the layout read next is the one on screen.
        self.evaluate(
            "document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => "
            "requestAnimationFrame(() => r(true)))))"
        )

    def measure(self, width: int, height: int = 900, mobile: bool = False) -> Measure:
        """The open page laid out at ``width`` CSS px (see :class:`Measure`)."""
        self.viewport(width, height, mobile)
        self._settle("layout")
        raw = self.evaluate(MEASURE)
        return Measure(
            width=width,
            mobile=mobile,
            viewport_width=int(raw["viewport_width"]),
            viewport_height=int(raw["viewport_height"]),
            client_width=int(raw["client_width"]),
            scroll_width=int(raw["scroll_width"]),
            page_height=int(raw["page_height"]),
            sections=bool(raw["sections"]),
            blocks=tuple(Block(**block) for block in raw["blocks"]),
            culprits=tuple(raw["culprits"]),
        )

    def screenshot(
        self, out: str | Path, width: int, max_height: int = MAX_HEIGHT, mobile: bool = False
    ) -> Measure:
        """A PNG of the whole open page at ``width`` px (the window as tall as the page, at most
        ``max_height`` px: the top of a longer page). Returns the page as measured for it."""
        page = self.measure(width, mobile=mobile)
        height = max(1, min(page.page_height, max_height))
        self.viewport(width, height, mobile)
        self._settle("layout")
        data = self.call("Page.captureScreenshot", format="png", fromSurface=True)["data"]
        Path(out).write_bytes(base64.b64decode(data))
        return page

    def pdf(self, out: str | Path, paper: str = "a4") -> None:
        """Print the open page to PDF as a browser's print dialog does by default (print stylesheet, no
        background graphics), without the header and footer lines."""
        inches = PAPER[paper]
        self.call("Emulation.clearDeviceMetricsOverride")
        data = self.call(
            "Page.printToPDF",
            paperWidth=inches[0],
            paperHeight=inches[1],
            displayHeaderFooter=False,
            printBackground=False,
            preferCSSPageSize=True,
        )["data"]
        Path(out).write_bytes(base64.b64decode(data))

    # --- shutting down -------------------------------------------------------------------------------

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.timeout = 10.0
                self.call("Browser.close")
                self.process.wait(timeout=10)
            except (BrowserError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the browser's own process group only
            self.process.wait(timeout=10)
        self._close_fds(self._read, self._write)
        self._discard()

    @staticmethod
    def _close_fds(*fds: int) -> None:
        for fd in fds:
            with suppress(OSError):
                os.close(fd)

    def _discard(self) -> None:
        shutil.rmtree(self.profile, ignore_errors=True)


@contextmanager
def browser(binary: str | None = None, timeout: float = TIMEOUT) -> Iterator[Browser]:
    """A headless Chromium for the block (:class:`Browser`), closed and its profile removed afterwards."""
    found = binary or find_chromium()
    if not found:
        raise BrowserError(
            "no Chromium found (tried " + ", ".join(CANDIDATES) + "; set MLMROI_TEST_CHROMIUM or "
            "apt-get install chromium)"
        )
    started = Browser(found, timeout)
    try:
        yield started
    finally:
        started.close()


def pdf_text(path: str | Path) -> str:
    """The text of every page of a PDF, NFKC-normalised (ligatures as letters, no-break spaces as
    spaces)."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return unicodedata.normalize("NFKC", "\n".join(page.extract_text() or "" for page in reader.pages))


def png_size(path: str | Path) -> tuple[int, int]:
    """A PNG's width and height in pixels, from its header."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser", description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="the HTML file (e.g. mlmroi-out/report.html)")
    parser.add_argument("out", type=Path, help="the PNG to write (.pdf: print to PDF instead)")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in CSS px (1280)")
    parser.add_argument("--max-height", type=int, default=MAX_HEIGHT, help="crop a longer page to this")
    parser.add_argument("--mobile", action="store_true", help="lay out as a phone (meta viewport, touch)")
    parser.add_argument("--paper", choices=sorted(PAPER), default="a4", help="PDF paper size (a4)")
    args = parser.parse_args(argv)
    try:
        with browser() as chromium:
            chromium.open(args.page)
            if args.out.suffix.lower() == ".pdf":
                chromium.pdf(args.out, args.paper)
                print(f"wrote {args.out} ({chromium.version})")
                return 0
            page = chromium.screenshot(args.out, args.width, args.max_height, args.mobile)
    except BrowserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    width, height = png_size(args.out)
    print(
        f"wrote {args.out}: {width} × {height} px of a page {page.page_height} px tall, "
        f"{page.scroll_width} px wide in a {page.client_width} px viewport ({chromium.version})"
    )
    for culprit in page.culprits:
        many = f" ×{culprit['count']}" if culprit["count"] > 1 else ""
        print(f"  wider than the viewport: {culprit['element']}{many} (right edge at {culprit['right']} px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
