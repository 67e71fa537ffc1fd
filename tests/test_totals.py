"""The measures' kept totals (models.totals) always equal a full recomputation from the monthly
values, whatever sequence of edits came before; `valuegate rollup-verify` finds and repairs any
difference that a write around the services left behind."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from config.settings import Settings
from models.audit import Actor
from models.channels import Channel
from models.figures import ImpactLine, LineChange, LineIn, MonthlyValue
from models.measure import Measure
from models.money import ImpactCategory, Scenario
from models.people import Person
from models.totals import MeasureMonthTotal, MeasureTotal
from services import figures, impact_lines, totals
from services.db import transaction
from tests.factories import Org, complete_measure, make_org, months
from valuegate.cli import _rollup_verify

UNITS = Decimal(10_000)  # kept totals count 1/10,000 of the currency
MONTHS = months()


@dataclass(frozen=True)
class SetFigures:
    line: int  # index into the measure's lines, wrapped around
    scenario: Scenario
    values: dict[int, Decimal]  # month index → amount


@dataclass(frozen=True)
class Recategorise:
    line: int
    category: ImpactCategory


@dataclass(frozen=True)
class AddLine:
    category: ImpactCategory


@dataclass(frozen=True)
class RemoveLine:
    line: int


Edit = SetFigures | Recategorise | AddLine | RemoveLine

amounts = st.decimals(min_value=-2_000_000, max_value=2_000_000, places=2)
categories = st.sampled_from(list(ImpactCategory))
edits = st.one_of(
    st.builds(
        SetFigures,
        line=st.integers(0, 5),
        scenario=st.sampled_from(list(figures.EDITABLE)),
        values=st.dictionaries(st.integers(0, len(MONTHS) - 1), amounts, max_size=len(MONTHS)),
    ),
    st.builds(Recategorise, line=st.integers(0, 5), category=categories),
    st.builds(AddLine, category=categories),
    st.builds(RemoveLine, line=st.integers(0, 5)),
)


async def _apply(session: AsyncSession, org: Org, measure_id: int, edit: Edit) -> None:
    owner = await session.get(Person, org.owner_id)
    measure = await session.get(Measure, measure_id)
    assert owner is not None and measure is not None
    actor = Actor.person(owner.id, Channel.API)
    lines = (
        await session.exec(
            select(ImpactLine)
            .where(ImpactLine.measure_id == measure_id)
            .order_by(col(ImpactLine.id))
        )
    ).all()
    if isinstance(edit, AddLine) or not lines:
        category = edit.category if isinstance(edit, AddLine) else ImpactCategory.CAPEX
        data = LineIn(category=category, description="property test line")
        await impact_lines.add(session, measure_id=measure_id, data=data, person=owner, actor=actor)
        return
    line = lines[edit.line % len(lines)]
    if isinstance(edit, SetFigures):
        current = await figures.series(session, line_id=line.id or 0, scenario=edit.scenario)
        await figures.replace(
            session,
            measure=measure,
            line=line,
            scenario=edit.scenario,
            values={MONTHS[i]: amount for i, amount in edit.values.items()},
            expected_etag=current.etag,
            actor=actor,
        )
    elif isinstance(edit, Recategorise):
        change = LineChange(category=edit.category)
        await impact_lines.change(
            session,
            measure_id=measure_id,
            line_id=line.id or 0,
            data=change,
            person=owner,
            actor=actor,
        )
    else:
        await impact_lines.remove(
            session, measure_id=measure_id, line_id=line.id or 0, person=owner, actor=actor
        )


async def _recomputed(session: AsyncSession, measure_id: int) -> dict[tuple, list[Decimal]]:
    """The measure's totals added up here, in Python, from its monthly values: per category
    and per (category, month), plan, forecast, actual, verified and achieved (the actual where
    a line has one that month, else its forecast)."""
    rows = (
        await session.exec(
            select(
                ImpactLine.id,
                ImpactLine.category,
                MonthlyValue.period,
                MonthlyValue.scenario,
                MonthlyValue.amount,
            )
            .join(MonthlyValue, col(MonthlyValue.impact_line_id) == ImpactLine.id)
            .where(ImpactLine.measure_id == measure_id)
        )
    ).all()
    cells: dict[tuple, dict[Scenario, Decimal]] = defaultdict(dict)
    for line, category, period, scenario, amount in rows:
        cells[(line, category, period)][scenario] = amount
    result: dict[tuple, list[Decimal]] = {}
    for (_, category, period), by_scenario in cells.items():
        achieved = by_scenario.get(Scenario.ACTUAL, by_scenario.get(Scenario.FORECAST, Decimal(0)))
        scenarios = (Scenario.PLAN, Scenario.FORECAST, Scenario.ACTUAL, Scenario.VERIFIED)
        figures_here = [by_scenario.get(s, Decimal(0)) for s in scenarios] + [achieved]
        for key in ((category,), (category, period)):
            kept = result.setdefault(key, [Decimal(0)] * 5)
            result[key] = [a + b for a, b in zip(kept, figures_here, strict=True)]
    return result


async def _kept(session: AsyncSession, measure_id: int) -> dict[tuple, list[Decimal]]:
    kept: dict[tuple, list[Decimal]] = {}
    for table in (MeasureTotal, MeasureMonthTotal):
        for row in (await session.exec(select(table).where(table.measure_id == measure_id))).all():
            key = (row.category,) if table is MeasureTotal else (row.category, row.period)
            amounts = (row.plan, row.forecast, row.actual, row.verified, row.achieved)
            kept[key] = [Decimal(a) / UNITS for a in amounts]
    return kept


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(edits, min_size=1, max_size=8))
async def test_kept_totals_equal_a_full_recomputation_after_any_edits(
    sessions: async_sessionmaker[AsyncSession], sequence: list[Edit]
) -> None:
    org = await make_org(sessions, tag=uuid.uuid4().hex[:8])  # examples share one database
    measure_id = await complete_measure(sessions, org)
    for edit in sequence:
        async with transaction(sessions) as session:
            await _apply(session, org, measure_id, edit)
    async with sessions() as session:
        assert await _kept(session, measure_id) == await _recomputed(session, measure_id)
        assert await totals.differences(session) == []


async def test_a_change_that_failed_leaves_the_totals_as_they_were(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    async with sessions() as session:
        before = await _kept(session, measure_id)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await _apply(session, org, measure_id, SetFigures(0, Scenario.PLAN, {0: Decimal(7)}))
            raise RuntimeError("the request failed after the figures were written")
    async with sessions() as session:
        assert await _kept(session, measure_id) == before


async def test_rollup_verify_reports_a_difference_and_repairs_it(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    assert await _rollup_verify(settings, repair=False) == 0
    assert "totals agree" in capsys.readouterr().out

    async with transaction(sessions) as session:  # a script writes around the services
        await session.exec(
            update(MonthlyValue)  # type: ignore[call-overload]
            .where(col(MonthlyValue.period) == date(2027, 3, 1))
            .values(amount=Decimal("1.50"))
        )
    assert await _rollup_verify(settings, repair=False) == 1
    report = capsys.readouterr().out
    assert f"measure_id={measure_id}, category=cost_reduction, period=2027-03-01" in report
    assert "totals DIFFER" in report

    assert await _rollup_verify(settings, repair=True) == 0
    assert "repaired" in capsys.readouterr().out
    assert await _rollup_verify(settings, repair=False) == 0
    async with sessions() as session:
        march = (
            await session.exec(
                select(MeasureMonthTotal).where(
                    MeasureMonthTotal.measure_id == measure_id,
                    MeasureMonthTotal.period == date(2027, 3, 1),
                )
            )
        ).one()
        assert march.plan == 15_000  # 1.50 in 1/10,000 units
