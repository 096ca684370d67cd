"""The report of a score run: ``report.html`` (:mod:`.page`: a Jinja2 template with inline matplotlib SVG
charts) and the command line's summary tables (:mod:`.console`), both from the typed run summary, with one
way of writing numbers and text (:mod:`.format`). See docs/report.md.

``render`` and ``SECTIONS`` (:mod:`.page`) and ``ranked`` (:mod:`.figures`) load on first use: the
command line imports :mod:`.format` and :mod:`.console` at start, and matplotlib should load only when a
page is drawn.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SECTIONS", "ranked", "render"]


def __getattr__(name: str) -> Any:
    if name == "ranked":
        from mlmroi.report import figures

        return figures.ranked
    if name in __all__:
        from mlmroi.report import page

        return getattr(page, name)
    raise AttributeError(f"module 'mlmroi.report' has no attribute {name!r}")
