"""Keeping and checking the measures' totals (models.totals).

Every change of figures, every new measure, a change of a measure's business unit or legal
entity, and its cancellation call `refresh` with the measures they touched, inside their own
transaction: their rows are recomputed from the monthly values, and what they add to their
packages' month totals is taken out as it was and put back as it is now, so a total can never
hold a change that was rolled back, nor miss one that committed. Other stage changes call
`restage`, changes of milestones `refresh_first_open`, a confirmed forecast
`refresh_forecast_confirmed`. `differences` recomputes everything and
compares (`valuegate rollup-verify`).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    case,
    delete,
    except_,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import type_coerce as as_type
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from models.figures import ImpactLine, Milestone, MonthlyValue
from models.forecasts import ASKED_IN
from models.measure import Measure
from models.money import ImpactCategory, Scenario
from models.stages import Stage
from models.status import AMBER_ATTAINMENT, GREEN_ATTAINMENT, Light
from models.totals import MeasureMonthTotal, MeasureSummary, MeasureTotal, PackageMonthTotal
from services import audit

_value = MonthlyValue.__table__  # type: ignore[attr-defined]
_line = ImpactLine.__table__  # type: ignore[attr-defined]
_month = MeasureMonthTotal.__table__  # type: ignore[attr-defined]
_total = MeasureTotal.__table__  # type: ignore[attr-defined]
_summary = MeasureSummary.__table__  # type: ignore[attr-defined]
_package = PackageMonthTotal.__table__  # type: ignore[attr-defined]
_measure = Measure.__table__  # type: ignore[attr-defined]
_milestone = Milestone.__table__  # type: ignore[attr-defined]

AMOUNTS = ("plan", "forecast", "actual", "verified", "achieved")
EBITDA = ("plan", "achieved", "verified")  # what the summaries and package totals keep
PLACE = ("package_id", "business_unit_id", "legal_entity_id")
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


def _first_open(where: Any) -> Any:
    """Per measure matching `where` (a clause on Milestone.measure_id), the planned date of its
    first milestone neither done nor waived."""
    return (
        select(_milestone.c.measure_id, func.min(_milestone.c.planned_date).label("first_open"))
        .where(_milestone.c.done_date.is_(None), _milestone.c.waived_reason.is_(None), where)
        .group_by(_milestone.c.measure_id)
    )


def value_light(plan: Any, achieved: Any) -> Any:
    """The value light (models.status.potential_status) of `achieved` against `plan`, in SQL."""

    def at_least(share: Decimal) -> Any:
        numerator, denominator = share.as_integer_ratio()
        return achieved * denominator >= plan * numerator

    return case(
        (plan <= 0, Light.NONE.value),
        (at_least(GREEN_ATTAINMENT), Light.GREEN.value),
        (at_least(AMBER_ATTAINMENT), Light.AMBER.value),
        else_=Light.RED.value,
    )


def summary_rows(ids: list[int] | None = None) -> Any:
    """The summary (models.totals.MeasureSummary) of the measures `ids` (None: all), from their
    kept totals, open milestones, stage and place now."""

    def of(column: Any) -> Any:
        return true() if ids is None else column.in_(ids)

    ebitda = (
        select(_total.c.measure_id, *(func.sum(_total.c[name]).label(name) for name in EBITDA))
        .where(_total.c.category != ImpactCategory.CAPEX.value, of(_total.c.measure_id))
        .group_by(_total.c.measure_id)
        .subquery("ebitda")
    )
    first_open = _first_open(of(_milestone.c.measure_id)).subquery("first_open")
    plan, achieved, verified = (func.coalesce(ebitda.c[name], 0) for name in EBITDA)
    return (
        select(
            _measure.c.id.label("measure_id"),
            _measure.c.stage,
            *(_measure.c[name] for name in PLACE),
            plan.label("plan"),
            achieved.label("achieved"),
            verified.label("verified"),
            value_light(plan, achieved).label("value"),
            first_open.c.first_open,
            (_measure.c.stage != Stage.CANCELLED.value).label("counted"),
            _forecast_confirmed(_measure).label("forecast_confirmed_on"),
        )
        .outerjoin(ebitda, ebitda.c.measure_id == _measure.c.id)
        .outerjoin(first_open, first_open.c.measure_id == _measure.c.id)
        .where(of(_measure.c.id))
    )


def _forecast_confirmed(measure: Any) -> Any:
    """The day the measure's forecast was last confirmed, while forecasts are asked of it."""
    asked = measure.c.stage.in_([stage.value for stage in ASKED_IN])
    return case((asked, measure.c.forecast_confirmed_on), else_=None)


def package_rows(summaries: Any, months: Any) -> Any:
    """Per package, business unit, legal entity and month, the EBITDA sums of `months` (month
    rows) of the measures `summaries` (summary rows) counts."""
    place = [summaries.c.package_id, *(func.coalesce(summaries.c[n], 0) for n in PLACE[1:])]
    return (
        select(*place, months.c.period, *(func.sum(months.c[name]).label(name) for name in EBITDA))
        .select_from(summaries.join(months, months.c.measure_id == summaries.c.measure_id))
        .where(summaries.c.counted, months.c.category != ImpactCategory.CAPEX.value)
        .group_by(*place, months.c.period)
    )


MONTH_COLUMNS = ["measure_id", "category", "period", *AMOUNTS]
TOTAL_COLUMNS = ["measure_id", "category", *AMOUNTS]
SUMMARY_COLUMNS = [
    "measure_id",
    "stage",
    *PLACE,
    *EBITDA,
    "value",
    "first_open",
    "counted",
    "forecast_confirmed_on",
]
PACKAGE_COLUMNS = [*PLACE, "period", *EBITDA]

Contributions = dict[tuple[int, int, int, Any], tuple[int, ...]]


async def refresh(session: AsyncSession, measure_ids: Iterable[int]) -> None:
    """Recompute the totals of `measure_ids` from their monthly values, and move what they add
    to their packages' month totals, in the caller's transaction (after its changes)."""
    ids = sorted(set(measure_ids))
    if not ids:
        return
    # Package totals are shared by many measures: their writers queue where audited writers do.
    await audit.take_turn(session)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        before = await _contributions(session, chunk)
        for table in (_total, _month, _summary):
            await session.exec(delete(table).where(table.c.measure_id.in_(chunk)))
        months = month_rows(_line.c.measure_id.in_(chunk))
        await session.exec(insert(_month).from_select(MONTH_COLUMNS, months))
        stored = select(_month).where(_month.c.measure_id.in_(chunk)).subquery("stored")
        await session.exec(insert(_total).from_select(TOTAL_COLUMNS, total_rows(stored)))
        await session.exec(insert(_summary).from_select(SUMMARY_COLUMNS, summary_rows(chunk)))
        after = await _contributions(session, chunk)
        await _add_to_packages(session, after, before)


async def refresh_first_open(session: AsyncSession, measure_id: int) -> None:
    """Recompute the measure's first open milestone, after a change of its milestones."""
    first = _first_open(_milestone.c.measure_id == measure_id).subquery("first")
    await session.exec(
        update(_summary)
        .where(_summary.c.measure_id == measure_id)
        .values(first_open=select(first.c.first_open).scalar_subquery())
    )


async def restage(session: AsyncSession, measure_id: int, stage: Stage) -> None:
    """Keep the measure's new stage (after it is written to the measure); a cancelled measure's
    figures leave its package totals."""
    if stage is Stage.CANCELLED:
        await refresh(session, [measure_id])
    else:
        await refresh_forecast_confirmed(session, measure_id, stage=stage.value)


async def refresh_forecast_confirmed(
    session: AsyncSession, measure_id: int, **changed: Any
) -> None:
    """Keep the day the measure's forecast was last confirmed (and `changed` columns)."""
    measure = _measure.alias("m")
    confirmed = select(_forecast_confirmed(measure)).where(measure.c.id == measure_id)
    await session.exec(
        update(_summary)
        .where(_summary.c.measure_id == measure_id)
        .values(forecast_confirmed_on=confirmed.scalar_subquery(), **changed)
    )


async def _contributions(session: AsyncSession, chunk: list[int]) -> Contributions:
    """What the measures `chunk` add to package month totals, by their kept rows."""
    mine = select(_summary).where(_summary.c.measure_id.in_(chunk)).subquery("mine")
    rows = (await session.exec(package_rows(mine, _month))).all()
    return {tuple(row[:4]): tuple(int(n) for n in row[4:]) for row in rows}


async def _add_to_packages(
    session: AsyncSession, after: Contributions, before: Contributions
) -> None:
    """Add `after` minus `before` to the package month totals; remove rows left at nothing."""
    zero = (0,) * len(EBITDA)
    changes = []
    for key in sorted(after.keys() | before.keys()):
        now, then = after.get(key, zero), before.get(key, zero)
        delta = tuple(a - b for a, b in zip(now, then, strict=True))
        if delta != zero:
            changes.append(dict(zip(PACKAGE_COLUMNS, (*key, *delta), strict=True)))
    if not changes:
        return
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    upsert = (postgresql if postgres else sqlite).insert(_package)
    upsert = upsert.on_conflict_do_update(
        index_elements=[*PLACE, "period"],
        set_={name: _package.c[name] + upsert.excluded[name] for name in EBITDA},
    )
    await session.exec(upsert, params=changes)
    packages = sorted({change["package_id"] for change in changes})
    await session.exec(
        delete(_package).where(
            _package.c.package_id.in_(packages), *(_package.c[name] == 0 for name in EBITDA)
        )
    )


async def rebuild(session: AsyncSession) -> None:
    """Recompute every measure's totals (after a bulk load that bypassed `refresh`)."""
    for table in (_total, _month, _summary, _package):
        await session.exec(delete(table))
    await session.exec(insert(_month).from_select(MONTH_COLUMNS, month_rows()))
    await session.exec(insert(_total).from_select(TOTAL_COLUMNS, total_rows(_month)))
    await session.exec(insert(_summary).from_select(SUMMARY_COLUMNS, summary_rows()))
    packages = package_rows(_summary, _month).having(_nonzero(func.sum, _month))
    await session.exec(insert(_package).from_select(PACKAGE_COLUMNS, packages))


def _nonzero(of: Any, table: Any) -> Any:
    """Whether any of `of` (a function of a column) of the EBITDA amounts of `table` is not 0."""
    return or_(*(of(table.c[name]) != 0 for name in EBITDA))


async def differences(session: AsyncSession, *, limit: int = 20) -> list[str]:
    """Where the kept totals differ from a recomputation from the monthly values: the first
    `limit` differing rows, each said in a line (none: they agree)."""
    found: list[str] = []
    months = month_rows().subquery("expected")
    summaries = summary_rows().subquery("expected_summary")
    checks = (
        ("month totals", _month, select(*(months.c[c] for c in MONTH_COLUMNS)), MONTH_COLUMNS),
        ("totals", _total, total_rows(months), TOTAL_COLUMNS),
        (
            "summaries",
            _summary,
            select(*(summaries.c[c] for c in SUMMARY_COLUMNS)),
            SUMMARY_COLUMNS,
        ),
        (
            "package month totals",
            _package,
            package_rows(summaries, months).having(_nonzero(func.sum, months)),
            PACKAGE_COLUMNS,
        ),
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
