"""Geometry for the small SVG charts of the results pages, drawn by the templates on the server:
no chart library and no script, so the charts show on every phone and pass the CSP."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

WIDTH, HEIGHT = 480, 180
LEFT, RIGHT, TOP, BOTTOM = 36, 10, 16, 26


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str       # the band, "80–85"
    count: int


@dataclass
class Histogram:
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM


def histogram(bins) -> Histogram:
    """Bars for engine.services.result_views.Bin values; the tallest bar fills the plot."""
    if not bins:
        return Histogram([])
    tallest = max(b.count for b in bins) or 1
    slot = (WIDTH - LEFT - RIGHT) / len(bins)
    plot = HEIGHT - TOP - BOTTOM
    bars = []
    for n, b in enumerate(bins):
        height = plot * b.count / tallest
        bars.append(Bar(round(LEFT + n * slot + 1, 1), round(HEIGHT - BOTTOM - height, 1), round(slot - 2, 1),
                        round(height, 1), f"{b.low:.0f}–{b.high:.0f}", b.count))
    return Histogram(bars)


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str       # the month
    value: str


@dataclass
class LineChart:
    lines: list[str] = field(default_factory=list)       # "x,y x,y …" per run of months with a value
    dots: list[Dot] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)     # y, text
    months: list[tuple[float, str]] = field(default_factory=list)    # x, text
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM


def line_chart(months: list[str], values: list, *, inverted: bool = False) -> LineChart:
    """A line over `months` (None leaves a gap). `inverted` puts the smallest value on top (ranks)."""
    chart = LineChart()
    known = [Decimal(v) for v in values if v is not None]
    step = (WIDTH - LEFT - RIGHT) / max(len(months) - 1, 1)
    xs = [LEFT + n * step if len(months) > 1 else (WIDTH + LEFT - RIGHT) / 2 for n in range(len(months))]
    every = max(1, (len(months) + 5) // 6)   # at most about six month labels, so they never overlap
    chart.months = [(round(x, 1), m[2:]) for n, (x, m) in enumerate(zip(xs, months))
                    if n % every == 0 or n == len(months) - 1]
    if not known:
        return chart
    low, high = _range(min(known), max(known), whole=inverted)
    plot = HEIGHT - TOP - BOTTOM

    def y_of(value: Decimal) -> float:
        share = (value - low) / (high - low)
        return round(TOP + float(share if inverted else 1 - share) * plot, 1)

    run: list[str] = []
    for x, month, value in zip(xs, months, values):
        if value is None:
            if run:
                chart.lines.append(" ".join(run))
            run = []
            continue
        y = y_of(Decimal(value))
        run.append(f"{x:.1f},{y}")
        chart.dots.append(Dot(round(x, 1), y, month, str(value)))
    if run:
        chart.lines.append(" ".join(run))
    chart.ticks = [(y_of(v), f"{v:.0f}") for v in (low, (low + high) / 2, high)]
    return chart


def _range(low: Decimal, high: Decimal, *, whole: bool) -> tuple[Decimal, Decimal]:
    """A little room around the values; ranks keep whole numbers starting at 1."""
    if whole:
        return Decimal(1), max(high, Decimal(2))
    pad = max((high - low) / 5, Decimal(1))
    return (low - pad).to_integral_value(), (high + pad).to_integral_value()
