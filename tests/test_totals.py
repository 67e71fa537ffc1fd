"""The measures' kept totals (models.totals: per measure and month, per measure, the summaries
and the package month totals) always equal a full recomputation from the monthly values,
milestones and places, whatever sequence of edits came before; `valuegate rollup-verify` finds
and repairs any difference that a write around the services left behind."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
from models.figures import (
    ImpactLine,
    LineChange,
    LineIn,
    Milestone,
    MilestoneChange,
    MilestoneIn,
    MonthlyValue,
)
from models.measure import Measure, MeasureUpdate
from models.money import ImpactCategory, Scenario
from models.organization import BusinessUnit, LegalEntity
from models.people import Person
from models.stages import Stage
from models.totals import MeasureMonthTotal, MeasureSummary, MeasureTotal, PackageMonthTotal
from services import facts, figures, impact_lines, measures, milestones, totals
from services.db import transaction
from tests.factories import Org, complete_measure, make_org, months
from valuegate.cli import _rollup_verify
from workflows.contracts import FactBatch, FactRecord, StageChanged

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


@dataclass(frozen=True)
class Replace:
    """Move the measure to the org's other business unit or legal entity, or back."""

    legal_entity: bool


@dataclass(frozen=True)
class AddMilestone:
    days: int  # planned this many days from today


@dataclass(frozen=True)
class FinishMilestone:
    milestone: int  # index into the measure's milestones, wrapped around
    waive: bool


Edit = SetFigures | Recategorise | AddLine | RemoveLine | Replace | AddMilestone | FinishMilestone

FORECAST = SetFigures(0, Scenario.FORECAST, {i: Decimal(1000 + i) for i in range(len(MONTHS))})
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
    st.builds(Replace, legal_entity=st.booleans()),
    st.builds(AddMilestone, days=st.integers(-60, 60)),
    st.builds(FinishMilestone, milestone=st.integers(0, 5), waive=st.booleans()),
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
    if isinstance(edit, Replace | AddMilestone | FinishMilestone):
        await _apply_to_measure(session, org, measure, edit, owner, actor)
        return
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


async def _apply_to_measure(
    session: AsyncSession, org: Org, measure: Measure, edit: Edit, owner: Person, actor: Actor
) -> None:
    if isinstance(edit, Replace):
        if edit.legal_entity:
            other = await _other(session, LegalEntity, measure.legal_entity_id, org)
            data = MeasureUpdate(legal_entity_id=other)
        else:
            other = await _other(session, BusinessUnit, measure.business_unit_id, org)
            data = MeasureUpdate(business_unit_id=other)
        await measures.update(session, measure_id=measure.id or 0, data=data, actor=actor)
    elif isinstance(edit, AddMilestone):
        planned = date.today() + timedelta(days=edit.days)
        data_in = MilestoneIn(title="property test milestone", planned_date=planned)
        await milestones.add(session, measure=measure, data=data_in, person=owner, actor=actor)
    elif isinstance(edit, FinishMilestone):
        found = await milestones.of(session, measure.id or 0)
        if found:
            milestone = found[edit.milestone % len(found)]
            change = (
                MilestoneChange(waived_reason="not needed")
                if edit.waive
                else MilestoneChange(done_date=date.today())
            )
            await milestones.change(
                session,
                measure=measure,
                milestone_id=milestone.id or 0,
                data=change,
                person=owner,
                actor=actor,
            )


async def _other(session: AsyncSession, model: type, current: int | None, org: Org) -> int:
    """The id of the org's business unit or legal entity that is not `current`: the one the
    org came with, or a second one made here the first time."""
    first = org.legal_entity_id if model is LegalEntity else org.business_unit_id
    if current != first:
        return first
    same = await session.get(model, first)
    fields = {"organization_id": same.organization_id, "code": f"{same.code}-2", "name": "Second"}
    if model is LegalEntity:
        fields["currency"] = "USD"
    existing = (
        await session.exec(
            select(model).filter_by(organization_id=same.organization_id, code=fields["code"])
        )
    ).first()
    if existing is None:
        existing = model(**fields)
        session.add(existing)
        await session.flush()
    return existing.id


async def _cancel(sessions: async_sessionmaker[AsyncSession], measure_id: int) -> None:
    change = StageChanged(from_stage=Stage.DEFINED, to_stage=Stage.CANCELLED, reason="no case")
    batch = FactBatch(
        measure_id=measure_id,
        at=datetime.now(UTC),
        records=[FactRecord(key=f"cancel-{measure_id}", fact=change)],
    )
    await facts.record(sessions, batch)


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


async def _recomputed_package(session: AsyncSession, measure_id: int) -> dict[tuple, list[Decimal]]:
    """What the measure adds to its package's month totals, added up here from its monthly
    values: per (package, business unit, legal entity, month), EBITDA plan, achieved and
    verified; nothing once it is cancelled."""
    measure = await session.get(Measure, measure_id)
    assert measure is not None
    if measure.stage is Stage.CANCELLED:
        return {}
    place = (measure.package_id, measure.business_unit_id or 0, measure.legal_entity_id or 0)
    result: dict[tuple, list[Decimal]] = {}
    for key, (plan, _, _, verified, achieved) in (await _recomputed(session, measure_id)).items():
        if len(key) == 2 and key[0] is not ImpactCategory.CAPEX:
            into = result.setdefault((*place, key[1]), [Decimal(0)] * 3)
            result[(*place, key[1])] = [a + b for a, b in zip(into, (plan, achieved, verified),
                                                              strict=True)]  # fmt: skip
    return {key: amounts for key, amounts in result.items() if any(amounts)}


async def _kept_package(session: AsyncSession, package_id: int) -> dict[tuple, list[Decimal]]:
    rows = await session.exec(
        select(PackageMonthTotal).where(PackageMonthTotal.package_id == package_id)
    )
    return {
        (row.package_id, row.business_unit_id, row.legal_entity_id, row.period): [
            Decimal(amount) / UNITS for amount in (row.plan, row.achieved, row.verified)
        ]
        for row in rows.all()
    }


async def _first_open(session: AsyncSession, measure_id: int) -> tuple[date | None, date | None]:
    """The first open milestone as the summary keeps it, and as the milestones say."""
    summary = await session.get(MeasureSummary, measure_id)
    found = await session.exec(select(Milestone).where(Milestone.measure_id == measure_id))
    open_ = [m.planned_date for m in found.all() if m.done_date is None and not m.waived_reason]
    return (summary.first_open if summary else None), min(open_, default=None)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(edits, min_size=1, max_size=8), cancel=st.booleans())
async def test_kept_totals_equal_a_full_recomputation_after_any_edits(
    sessions: async_sessionmaker[AsyncSession], sequence: list[Edit], cancel: bool
) -> None:
    org = await make_org(sessions, tag=uuid.uuid4().hex[:8])  # examples share one database
    measure_id = await complete_measure(sessions, org)
    for edit in [FORECAST, *sequence]:  # with figures from the start, every move carries some
        async with transaction(sessions) as session:
            await _apply(session, org, measure_id, edit)
    if cancel:
        await _cancel(sessions, measure_id)
    async with sessions() as session:
        assert await _kept(session, measure_id) == await _recomputed(session, measure_id)
        assert await _kept_package(session, org.package_id) == await _recomputed_package(
            session, measure_id
        )
        kept_first, first = await _first_open(session, measure_id)
        assert kept_first == first
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
