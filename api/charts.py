"""Server-side SVG charts: the geometry is computed here, the templates draw it (no JavaScript,
nothing fetched from elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from models.rollups import PeriodValues

SERIES = (("plan", "Plan"), ("achieved", "Actual, else forecast"), ("verified", "Verified"))


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    points: str  # "x,y x,y …" for an SVG polyline


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    bottom: int
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def _nice_step(span: Decimal) -> Decimal:
    """A round step for about four grid lines over `span`: 1, 2, 2.5 or 5 times a power of
    ten."""
    rough = span / 4 if span > 0 else Decimal(1)
    exponent = rough.adjusted()
    return next(
        Decimal(step).scaleb(exponent)
        for step in ("1", "2", "2.5", "5", "10")
        if Decimal(step).scaleb(exponent) >= rough
    )


def _short(amount: Decimal) -> str:
    for size, suffix in ((Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "m"), (Decimal(1000), "k")):
        if abs(amount) >= size:
            return f"{(amount / size).normalize():f}{suffix}"
    return f"{amount.normalize():f}"


def line_chart(months: list[PeriodValues], *, width: int = 720, height: int = 260) -> LineChart:
    """Plan, achieved and verified month by month (pass cumulative values for running totals)."""
    left, bottom, top_pad = 56, 28, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    highest = max((getattr(m, k) for m in months for k, _ in SERIES), default=Decimal(0))
    lowest = min((getattr(m, k) for m in months for k, _ in SERIES), default=Decimal(0))
    highest, lowest = max(highest, Decimal(0)), min(lowest, Decimal(0))
    step = _nice_step(highest - lowest)
    floor = (lowest / step).to_integral_value(rounding=ROUND_FLOOR) * step
    top = (highest / step).to_integral_value(rounding=ROUND_CEILING) * step
    top = top if top > floor else floor + step
    span = top - floor

    def y(amount: Decimal) -> float:
        return round(top_pad + float((top - amount) / span) * plot_h, 1)

    def x(index: int) -> float:
        steps = max(len(months) - 1, 1)
        return round(left + plot_w * index / steps, 1)

    lines = [
        Line(key, label, " ".join(f"{x(i)},{y(getattr(m, key))}" for i, m in enumerate(months)))
        for key, label in SERIES
    ]
    steps = int(span / step)
    y_ticks = [Tick(y(floor + step * k), _short(floor + step * k)) for k in range(steps + 1)]
    every = max(len(months) // 8, 1)
    x_ticks = [
        Tick(x(i), m.period.strftime("%b %Y")) for i, m in enumerate(months) if i % every == 0
    ]
    return LineChart(width, height, left, bottom, lines, y_ticks, x_ticks)
