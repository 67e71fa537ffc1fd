"""The dashboard's SVG chart geometry: round axis steps that cover every value, lines inside
the plot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from api.charts import line_chart
from models.rollups import PeriodValues


def _months(*plans: int) -> list[PeriodValues]:
    return [
        PeriodValues(
            period=date(2027, i, 1), plan=Decimal(p), achieved=Decimal(p) / 2, verified=Decimal(0)
        )
        for i, p in enumerate(plans, 1)
    ]


def test_axis_covers_every_value_with_round_steps_through_zero() -> None:
    chart = line_chart(_months(-1_500_000, 0, 6_800_000))
    assert [t.label for t in chart.y_ticks] == ["-2.5m", "0", "2.5m", "5m", "7.5m"]
    ys = [float(p.split(",")[1]) for line in chart.lines for p in line.points.split()]
    top, bottom = chart.y_ticks[-1].at, chart.y_ticks[0].at
    assert all(top <= y <= bottom for y in ys)


def test_one_month_of_nothing_still_draws() -> None:
    chart = line_chart(_months(0))
    assert [t.label for t in chart.y_ticks] == ["0", "1"]
    assert chart.lines[0].points.count(",") == 1
    assert [t.label for t in chart.x_ticks] == ["Jan 2027"]
