"""Owners' figures: impact lines and their monthly plan, forecast and actual values.

Each line-and-scenario series is replaced as a whole, guarded by an entity tag of what the editor
read, so two people editing the same series never silently overwrite each other. Plan values are
frozen from the Decided gate on; verified values come only from the controller's closure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Date, Integer, String, bindparam, delete, insert, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.columns import MoneyType, utcnow
from models.criteria import horizon, plan_months
from models.figures import ImpactLine, MonthlyValue
from models.measure import Measure
from models.money import Scenario, amount_problem
from models.stages import TERMINAL_STAGES
from services import audit, forecasts, snapshot, totals
from services.errors import FieldProblem, InvalidInput

EDITABLE = (Scenario.PLAN, Scenario.FORECAST, Scenario.ACTUAL)


def editable_now(measure: Measure) -> tuple[Scenario, ...]:
    """The scenarios an editor may change on `measure` as it stands."""
    if measure.stage in TERMINAL_STAGES:
        return ()
    if measure.plan_frozen_at is not None:
        return (Scenario.FORECAST, Scenario.ACTUAL)
    return EDITABLE


class Refused(Exception):
    """The series may not be changed now (frozen, final, or read-only measure)."""


class Stale(Exception):
    """The series changed since the editor read it."""


@dataclass(frozen=True)
class Series:
    values: dict[date, Decimal]

    @property
    def etag(self) -> str:
        text = ";".join(f"{p.isoformat()}={a:f}" for p, a in sorted(self.values.items()))
        return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


async def series(session: AsyncSession, *, line_id: int, scenario: Scenario) -> Series:
    rows = (
        await session.exec(
            select(MonthlyValue).where(
                MonthlyValue.impact_line_id == line_id, MonthlyValue.scenario == scenario
            )
        )
    ).all()
    return Series(values={row.period: row.amount for row in rows})


async def replace(
    session: AsyncSession,
    *,
    measure: Measure,
    line: ImpactLine,
    scenario: Scenario,
    values: dict[date, Decimal],
    expected_etag: str,
    actor: Actor,
) -> Series:
    """Replace the series with `values` (inside the caller's transaction), with its audit event."""
    _may_change(measure, scenario)
    snap = await snapshot.load(session, measure_id=measure.id or 0, with_status=False)
    _check(values, set(horizon(snap)), snap.currency or "EUR")
    # Editors of one line take turns (PostgreSQL row lock; SQLite has one writer anyway), so the
    # second of two who read the same figures sees the first one's change and gets 412.
    await session.exec(select(ImpactLine.id).where(ImpactLine.id == line.id).with_for_update())
    current = await series(session, line_id=line.id or 0, scenario=scenario)
    if current.etag != expected_etag:
        raise Stale("these figures changed since you read them: read them again")
    await session.exec(
        delete(MonthlyValue).where(
            col(MonthlyValue.impact_line_id) == line.id, col(MonthlyValue.scenario) == scenario
        )
    )
    session.add_all(
        MonthlyValue(impact_line_id=line.id or 0, scenario=scenario, period=p, amount=a)
        for p, a in sorted(values.items())
    )
    await session.flush()
    if scenario is Scenario.FORECAST:  # a revised forecast is a confirmed one
        await forecasts.revised(session, [measure.id or 0], today=utcnow().date())
    await totals.refresh(session, [measure.id or 0])
    await audit.record(
        session,
        actor=actor,
        entity_type="measure",
        entity_id=measure.id or 0,
        action="figures.changed",
        before={"line": line.id, "scenario": scenario.value, "values": _shown(current.values)},
        after={"line": line.id, "scenario": scenario.value, "values": _shown(values)},
    )
    return await series(session, line_id=line.id or 0, scenario=scenario)  # as stored


@dataclass(frozen=True)
class SeriesChange:
    """A series to replace in a batch (an import): the measure, its line, and its currency."""

    measure: Measure
    line: ImpactLine
    scenario: Scenario
    values: dict[date, Decimal]
    currency: str


async def current(
    session: AsyncSession, line_ids: list[int]
) -> dict[tuple[int, Scenario], dict[date, Decimal]]:
    """Every series of the lines `line_ids`, read at once."""
    found: dict[tuple[int, Scenario], dict[date, Decimal]] = {}
    for start in range(0, len(line_ids), 500):
        rows = (
            await session.exec(
                select(MonthlyValue).where(
                    col(MonthlyValue.impact_line_id).in_(line_ids[start : start + 500])
                )
            )
        ).all()
        for row in rows:
            found.setdefault((row.impact_line_id, row.scenario), {})[row.period] = row.amount
    return found


async def replace_many(
    session: AsyncSession,
    changes: list[SeriesChange],
    before: dict[tuple[int, Scenario], dict[date, Decimal]],
    actor: Actor,
) -> dict[int, Refused | InvalidInput]:
    """Replace many series at once, each by the same rules as `replace` (final measures, frozen
    plans, verified figures, the plan horizon, the currency's decimals), each with its audit
    event, written in a few statements. `before` holds the series as they are (`current`).
    Returns the refused changes by their index in `changes`; nothing of those is written."""
    refused: dict[int, Refused | InvalidInput] = {}
    accepted: list[SeriesChange] = []
    for index, change in enumerate(changes):
        try:
            _may_change(change.measure, change.scenario)
            months = plan_months(change.measure.plan_start, change.measure.horizon_months)
            _check(change.values, set(months), change.currency)
        except (Refused, InvalidInput) as error:
            refused[index] = error
            continue
        accepted.append(change)
    if not accepted:
        return refused
    lines = sorted({change.line.id or 0 for change in accepted})
    await session.exec(select(ImpactLine.id).where(col(ImpactLine.id).in_(lines)).with_for_update())
    for scenario in {change.scenario for change in accepted}:
        ids = [change.line.id for change in accepted if change.scenario is scenario]
        await session.exec(
            delete(MonthlyValue).where(
                col(MonthlyValue.impact_line_id).in_(ids), col(MonthlyValue.scenario) == scenario
            )
        )
    rows = (
        {"impact_line_id": c.line.id, "scenario": c.scenario, "period": p, "amount": a}
        for c in accepted
        for p, a in sorted(c.values.items())
    )
    dialect = session.bind.dialect if session.bind is not None else None
    while chunk := list(islice(rows, 5000)):  # a long batch stays small in memory
        if dialect is not None and dialect.name == "postgresql":
            await (await session.connection()).execute(_UNNEST_INSERT, _columns(chunk, dialect))
        else:
            await session.exec(insert(MonthlyValue), params=chunk)
    revised = {c.measure.id or 0 for c in accepted if c.scenario is Scenario.FORECAST}
    await forecasts.revised(session, revised, today=utcnow().date())
    await totals.refresh(session, {change.measure.id or 0 for change in accepted})
    # The events go in a thousand series at a time, so a large import never holds them all.
    for start in range(0, len(accepted), audit.APPEND_CHUNK):
        entries = []
        for change in accepted[start : start + audit.APPEND_CHUNK]:
            was = before.get((change.line.id or 0, change.scenario), {})
            about = {"line": change.line.id, "scenario": change.scenario.value}
            entries.append(
                audit.Entry(
                    actor=actor,
                    entity_type="measure",
                    entity_id=change.measure.id or 0,
                    action="figures.changed",
                    before={**about, "values": _shown(was)},
                    after={**about, "values": _shown(change.values)},
                )
            )
        await audit.append(session, entries)
    return refused


# PostgreSQL runs an executemany as one statement per row; a chunk goes in as four arrays
# instead, one cached statement whatever the chunk's length.
_UNNEST_INSERT = text(
    "INSERT INTO monthly_value (impact_line_id, scenario, period, amount) "
    "SELECT * FROM unnest(CAST(:lines AS integer[]), CAST(:scenarios AS varchar[]), "
    "CAST(:periods AS date[]), CAST(:amounts AS bigint[]))"
).bindparams(
    bindparam("lines", type_=ARRAY(Integer)),
    bindparam("scenarios", type_=ARRAY(String)),
    bindparam("periods", type_=ARRAY(Date)),
    bindparam("amounts", type_=ARRAY(BigInteger)),
)


def _columns(rows: list[dict[str, Any]], dialect: Any) -> dict[str, list[Any]]:
    """Rows as the four arrays of `_UNNEST_INSERT`, each value as its column stores it."""
    money = MoneyType()
    return {
        "lines": [row["impact_line_id"] for row in rows],
        "scenarios": [row["scenario"].value for row in rows],
        "periods": [row["period"] for row in rows],
        "amounts": [money.process_bind_param(row["amount"], dialect) for row in rows],
    }


def _may_change(measure: Measure, scenario: Scenario) -> None:
    if measure.stage in TERMINAL_STAGES:
        raise Refused(f"the measure is {measure.stage.label.lower()}: its figures are final")
    if scenario is Scenario.VERIFIED:
        raise Refused("verified figures come only from the controller's closure")
    if scenario is Scenario.PLAN and measure.plan_frozen_at is not None:
        raise Refused("plan figures are frozen since the Decided gate (baseline version 1)")


def _check(values: dict[date, Decimal], months: set[date], currency: str) -> None:
    problems = []
    for period, amount in sorted(values.items()):
        where = f"values.{period.isoformat()}"
        if period not in months:
            problems.append(
                FieldProblem(where, "outside the plan horizon (use the first day of a plan month)")
            )
        if (problem := amount_problem(amount, currency)) is not None:
            problems.append(FieldProblem(where, problem))
    if problems:
        raise InvalidInput(problems)


def _shown(values: dict[date, Decimal]) -> dict[str, str]:
    return {p.isoformat(): f"{a:f}" for p, a in sorted(values.items())}
