"""The report's charts: static matplotlib figures written as inline SVG (text kept as text, no scripts, no
links, a fixed hash salt and no date, so the same figures give the same bytes). Positions are floats —
drawing only; every amount the page states comes from the exact tables."""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from mlmroi.report.format import fixed, shown

BLUE, ORANGE, GREEN, RED, GREY = "#3b6ea5", "#e08a2e", "#4f9a5b", "#b8433e", "#8a939c"
STYLE: Any = {  # matplotlib rcParams (its stubs type the keys as literals)
    "svg.hashsalt": "mlmroi",
    "svg.fonttype": "none",
    "text.parse_math": False,  # a "$" in a segment name is text, not mathtext
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": "#4a5562",
    "xtick.color": "#4a5562",
    "ytick.color": "#4a5562",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e7ec",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
}


CHAR = 0.07  # inches an 8 pt character takes, for the margins that hold tick labels


@contextmanager
def _figure(
    width: float,
    height: float,
    *,
    left: float = 0.75,
    right: float = 0.2,
    bottom: float = 0.5,
    top: float = 0.3,
    grid: tuple[int, int] = (1, 1),
    gaps: tuple[float, float] = (0.0, 0.0),
) -> Iterator[Figure]:
    """A figure with fixed margins in inches (``grid``: rows × columns of panels, ``gaps``: inches between
    them across and down). Fixed, not computed by a layout engine: it halves the drawing time, and the
    margins are sized here from what the panels hold."""
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        # Text is kept as text (the browser draws it with its own fonts): a glyph matplotlib's layout font
        # lacks (a name in another script) changes nothing on the page.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        figure = Figure(figsize=(width, height))
        rows, columns = grid
        panel_width = (width - left - right - gaps[0] * (columns - 1)) / columns
        panel_height = (height - top - bottom - gaps[1] * (rows - 1)) / rows
        figure.subplots_adjust(
            left=left / width,
            right=1 - right / width,
            bottom=bottom / height,
            top=1 - top / height,
            wspace=gaps[0] / panel_width,
            hspace=gaps[1] / panel_height,
        )
        yield figure


def _label_width(labels: Sequence[object]) -> float:
    """Inches for the longest of ``labels`` as 8 pt tick labels, plus the ticks' own room."""
    return max((len(shown(text)) for text in labels), default=1) * CHAR + 0.15


def to_svg(figure: Figure, title: str) -> str:
    """The figure as an inline ``<svg>`` that scales to its container (no XML prolog, no fixed size)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # Inline in HTML: no namespace declarations (the HTML parser knows SVG and xlink) and no RDF metadata,
    # so the page holds no address at all.
    svg = re.sub(r' xmlns(:[a-z]+)?="[^"]*"', "", svg)
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    # Scales down to a narrow screen, never up beyond its drawn size.
    svg = re.sub(
        r'<svg([^>]*?) width="([0-9.]+pt)" height="[^"]*"',
        r'<svg\1 role="img" class="chart" style="max-width:\2"',
        svg,
        count=1,
    )
    # Many charts share a page: their ids (groups, clip paths, glyphs) get a prefix of the chart's own
    # digest, so every id on the page is unique and each chart's references stay its own.
    prefix = "c" + hashlib.sha256(svg.encode()).hexdigest()[:8] + "-"
    svg = re.sub(r'(id="|url\(#|href="#)', lambda m: m.group(1) + prefix, svg)
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    return svg.replace(">", f"><title>{escaped}</title>", 1).strip()


def _thousands(axis_values: float, _: object = None) -> str:
    magnitude = abs(axis_values)
    if magnitude >= 1e9:
        return f"{axis_values / 1e9:g}G"
    if magnitude >= 1e6:
        return f"{axis_values / 1e6:g}M"
    if magnitude >= 1e3:
        return f"{axis_values / 1e3:g}k"
    return f"{axis_values:g}"


def _money_axis(axes: Axes, currency: str) -> None:
    axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
    axes.set_ylabel(currency)


def periods_chart(
    periods: Sequence[str],
    revenue: Sequence[float],
    commissions: Sequence[float],
    payout_ratio: Sequence[float | None],
    currency: str,
) -> str:
    """Revenue and commissions per period as bars, the payout ratio (commissions / volume) as a line on
    its own axis: sales growth and payout drift told apart."""
    with _figure(9.0, 3.2, right=0.8, bottom=0.7 if len(periods) > 12 else 0.45) as figure:
        axes = figure.subplots()
        x = np.arange(len(periods))
        axes.bar(x - 0.2, revenue, 0.4, color=BLUE, label="revenue")
        axes.bar(x + 0.2, commissions, 0.4, color=ORANGE, label="commissions")
        _money_axis(axes, currency)
        axes.set_xticks(x, list(periods), rotation=45 if len(periods) > 12 else 0, fontsize=8)
        ratio_axes = axes.twinx()
        ratio = [np.nan if r is None else r for r in payout_ratio]
        ratio_axes.plot(x, ratio, color=RED, marker="o", markersize=3, linewidth=1.6, label="payout ratio")
        ratio_axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ratio_axes.grid(False)
        ratio_axes.spines["right"].set_visible(True)
        ratio_axes.set_ylabel("payout ratio (commissions / volume)")
        top = np.nanmax(ratio) if np.isfinite(ratio).any() else 0.1
        ratio_axes.set_ylim(0, max(top * 1.25, 0.01))
        handles = axes.get_legend_handles_labels()[0] + ratio_axes.get_legend_handles_labels()[0]
        axes.legend(handles=handles, loc="upper left", ncols=3)
        return to_svg(figure, "Revenue, commissions and payout ratio by period")


def segments_chart(
    groups: Sequence[tuple[str, Sequence[str], Sequence[float], Sequence[float | None]]], currency: str
) -> str:
    """Per segmentation, profit per value as horizontal bars (loss-makers red), each labelled with its
    ROI %: small multiples, two a row."""
    columns = 2
    rows = (len(groups) + columns - 1) // columns
    heights = [max(len(values), 2) * 0.22 for _, values, _, _ in groups]
    row_heights = [max(heights[i : i + columns]) for i in range(0, len(groups), columns)]
    labels = _label_width([v for _, values, _, _ in groups for v in values])
    gap_down = 0.6  # room for a panel's x tick labels and the next one's title
    with _figure(
        9.0,
        sum(row_heights) + gap_down * (rows - 1) + 0.9,
        left=labels,
        right=0.15,
        bottom=0.55,
        top=0.3,
        grid=(rows, columns),
        gaps=(labels + 0.3, gap_down),
    ) as figure:
        grid = figure.add_gridspec(rows, columns, height_ratios=row_heights)
        for i, (name, values, profit, roi) in enumerate(groups):
            axes = figure.add_subplot(grid[i // columns, i % columns])
            y = np.arange(len(values))[::-1]
            colours = [RED if p < 0 else GREEN for p in profit]
            axes.barh(y, profit, color=colours, height=0.7)
            axes.set_yticks(y, [shown(v) for v in values], fontsize=8)
            axes.set_title(shown(name), loc="left", fontsize=9, fontweight="bold")
            axes.axvline(0, color="#4a5562", linewidth=0.8)
            axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
            axes.tick_params(axis="x", labelsize=7)
            span = max((abs(p) for p in profit), default=1.0) or 1.0
            axes.set_xlim(
                min(min(profit, default=0.0), 0) - 0.35 * span, max(max(profit, default=0.0), 0) + 0.35 * span
            )
            for yy, p, r in zip(y, profit, roi, strict=True):
                label = fixed(r, 0) + (" %" if r is not None else "")
                axes.annotate(
                    label,
                    (p, yy),
                    xytext=(3 if p >= 0 else -3, 0),
                    textcoords="offset points",
                    ha="left" if p >= 0 else "right",
                    va="center",
                    fontsize=7,
                    color=RED if p < 0 else "#4a5562",
                )
        figure.supxlabel(f"profit ({currency}); labels: ROI %", fontsize=8)
        return to_svg(figure, "Profit and ROI % per segment value")


def pareto_chart(x: np.ndarray, y: np.ndarray, a_share: float | None) -> str:
    """The Pareto (ABC) curve: cumulative share of revenue against the share of participants."""
    with _figure(4.4, 3.0, left=0.7, bottom=0.5) as figure:
        axes = figure.subplots()
        axes.plot(x, y, color=BLUE, linewidth=1.8)
        axes.plot([0, 1], [0, 1], color=GREY, linestyle=":", linewidth=1)
        axes.axhline(0.8, color=ORANGE, linewidth=0.8, linestyle="--")
        if a_share is not None:
            axes.axvline(a_share, color=GREEN, linewidth=0.8, linestyle="--")
            axes.annotate("class A", (a_share, 0.05), xytext=(3, 0), textcoords="offset points", fontsize=8)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.set_xlabel("participants, highest revenue first")
        axes.set_ylabel("share of revenue")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        return to_svg(figure, "Pareto curve of revenue (ABC)")


def breakdown_chart(
    name: str, groups: Sequence[str], profit: Sequence[float], roi: Sequence[float | None], currency: str
) -> str:
    """Profit per group as bars (losses red) with ROI % as a line on its own axis."""
    rotate = len(groups) > 8
    with _figure(
        4.4, 2.8, left=0.75, right=0.6, bottom=0.45 + (_label_width(groups) * 0.7 if rotate else 0.2)
    ) as figure:
        axes = figure.subplots()
        x = np.arange(len(groups))
        axes.bar(x, profit, color=[RED if p < 0 else BLUE for p in profit], width=0.7)
        axes.axhline(0, color="#4a5562", linewidth=0.8)
        _money_axis(axes, f"profit ({currency})")
        axes.set_xticks(x, [shown(g) for g in groups], rotation=45 if rotate else 0, fontsize=7)
        axes.set_xlabel(name)
        roi_axes = axes.twinx()
        roi_axes.plot(x, [np.nan if r is None else r for r in roi], color=ORANGE, marker="o", markersize=3)
        roi_axes.grid(False)
        roi_axes.spines["right"].set_visible(True)
        roi_axes.set_ylabel("ROI %")
        return to_svg(figure, f"Profit and ROI % by {name}")


def histograms(panels: Sequence[tuple[str, np.ndarray, str]], bins: int = 30) -> str:
    """Small-multiple histograms of per-participant figures, each as (title, values, x label); values
    beyond the 1st–99th percentiles are gathered into the edge bins so a few outliers do not flatten the
    picture."""
    columns = min(len(panels), 3)
    rows = (len(panels) + columns - 1) // columns
    with _figure(
        9.0, 2.3 * rows, left=0.5, right=0.15, bottom=0.55, top=0.3, grid=(rows, columns), gaps=(0.55, 0.8)
    ) as figure:
        for i, (title, values, label) in enumerate(panels):
            axes = figure.add_subplot(rows, columns, i + 1)
            finite = values[np.isfinite(values)]
            if finite.size:
                low, high = np.percentile(finite, [1, 99])
                if high <= low:
                    low, high = low - 0.5, high + 0.5
                axes.hist(np.clip(finite, low, high), bins=bins, color=BLUE, histtype="stepfilled")
            axes.set_title(f"{title} (n = {finite.size:,})", loc="left", fontsize=9)
            axes.set_xlabel(label, fontsize=8)
            axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
            axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
            axes.tick_params(labelsize=7)
        return to_svg(figure, "Distributions per participant")


def share_bars(labels: Sequence[str], shares: Sequence[float], title: str) -> str:
    """Shares of participants per group as horizontal bars, labelled in %."""
    with _figure(
        6.0, 0.3 * len(labels) + 0.7, left=_label_width(labels), right=0.2, bottom=0.4, top=0.1
    ) as figure:
        axes = figure.subplots()
        y = np.arange(len(labels))[::-1]
        axes.barh(y, shares, color=BLUE, height=0.7)
        axes.set_yticks(y, [shown(v) for v in labels], fontsize=8)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.set_xlim(0, max(max(shares, default=0.0) * 1.2, 0.05))
        for yy, share in zip(y, shares, strict=True):
            axes.annotate(
                f"{share:.1%}",
                (share, yy),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        return to_svg(figure, title)
