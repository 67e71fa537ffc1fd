"""Keeping and checking the measures' totals (models.totals).

Every change of figures calls `refresh` with the measures it touched, inside its own
transaction: their rows are recomputed from the monthly values, so a total can never hold a
change that was rolled back, nor miss one that committed. `differences` recomputes everything
and compares (`valuegate rollup-verify`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, case, delete, except_, func, insert, select, true
from sqlalchemy import type_coerce as as_type
from sqlmodel.ext.asyncio.session import AsyncSession

from models.figures import ImpactLine, MonthlyValue
from models.money import Scenario
from models.totals import MeasureMonthTotal, MeasureTotal

_value = MonthlyValue.__table__  # type: ignore[attr-defined]
_line = ImpactLine.__table__  # type: ignore[attr-defined]
_month = MeasureMonthTotal.__table__  # type: ignore[attr-defined]
_total = MeasureTotal.__table__  # type: ignore[attr-defined]

AMOUNTS = ("plan", "forecast", "actual", "verified", "achieved")
CHUNK = 500  # measures per statement


def _scenario(scenario: Scenario) -> Any:
    amount = as_type(_value.c.amount, BigInteger)
    return func.coalesce(func.sum(case((_value.c.scenario == scenario.value, amount))), 0)


def month_rows(where: Any = None) -> Any:
    """Each measure's totals per category and month, computed from the monthly values of the
    measures matching `where` (a clause on ImpactLine.measure_id; None: all)."""
    per_line = (
        select(
            _line.c.measure_id,
            _line.c.category,
            _value.c.period,
            _scenario(Scenario.PLAN).label("plan"),
            _scenario(Scenario.FORECAST).label("forecast"),
            _scenario(Scenario.ACTUAL).label("actual"),
            _scenario(Scenario.VERIFIED).label("verified"),
            func.count(case((_value.c.scenario == Scenario.ACTUAL.value, 1))).label("actuals"),
        )
        .select_from(_value.join(_line, _line.c.id == _value.c.impact_line_id))
        .where(true() if where is None else where)
        .group_by(_line.c.measure_id, _line.c.category, _value.c.impact_line_id, _value.c.period)
        .subquery("line_month")
    )
    achieved = case((per_line.c.actuals > 0, per_line.c.actual), else_=per_line.c.forecast)
    return select(
        per_line.c.measure_id,
        per_line.c.category,
        per_line.c.period,
        *(func.sum(per_line.c[name]).label(name) for name in AMOUNTS[:-1]),
        func.sum(achieved).label("achieved"),
    ).group_by(per_line.c.measure_id, per_line.c.category, per_line.c.period)


def total_rows(months: Any) -> Any:
    """Per measure and category, the sums of `months` (a selectable shaped as month rows)."""
    return select(
        months.c.measure_id,
        months.c.category,
        *(func.sum(months.c[name]).label(name) for name in AMOUNTS),
    ).group_by(months.c.measure_id, months.c.category)


MONTH_COLUMNS = ["measure_id", "category", "period", *AMOUNTS]
TOTAL_COLUMNS = ["measure_id", "category", *AMOUNTS]


async def refresh(session: AsyncSession, measure_ids: Iterable[int]) -> None:
    """Recompute the totals of `measure_ids` from their monthly values, in the caller's
    transaction (after its changes of figures)."""
    ids = sorted(set(measure_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        await session.exec(delete(_total).where(_total.c.measure_id.in_(chunk)))
        await session.exec(delete(_month).where(_month.c.measure_id.in_(chunk)))
        months = month_rows(_line.c.measure_id.in_(chunk))
        await session.exec(insert(_month).from_select(MONTH_COLUMNS, months))
        stored = select(_month).where(_month.c.measure_id.in_(chunk)).subquery("stored")
        await session.exec(insert(_total).from_select(TOTAL_COLUMNS, total_rows(stored)))


async def rebuild(session: AsyncSession) -> None:
    """Recompute every measure's totals (after a bulk load that bypassed `refresh`)."""
    await session.exec(delete(_total))
    await session.exec(delete(_month))
    await session.exec(insert(_month).from_select(MONTH_COLUMNS, month_rows()))
    await session.exec(insert(_total).from_select(TOTAL_COLUMNS, total_rows(_month)))


async def differences(session: AsyncSession, *, limit: int = 20) -> list[str]:
    """Where the kept totals differ from a recomputation from the monthly values: the first
    `limit` differing rows, each said in a line (none: they agree)."""
    found: list[str] = []
    months = month_rows().subquery("expected")
    checks = (
        ("month totals", _month, select(*(months.c[c] for c in MONTH_COLUMNS)), MONTH_COLUMNS),
        ("totals", _total, total_rows(months), TOTAL_COLUMNS),
    )
    for label, table, expected, columns in checks:
        kept = select(*(table.c[c] for c in columns))
        for side, query in (
            ("recomputed, not kept", except_(expected, kept)),
            ("kept, not recomputed", except_(kept, expected)),
        ):
            rows = (await session.exec(query.limit(limit - len(found)))).all()  # type: ignore[call-overload]
            found += [f"{label} {side}: " + _said(columns, row) for row in rows]
            if len(found) >= limit:
                return found
    return found


def _said(columns: list[str], row: Any) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(columns, row, strict=True))
