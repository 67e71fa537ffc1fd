"""Read everything the gate criteria look at, in a few queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.criteria import LineSnapshot, MeasureSnapshot, MilestoneSnapshot, PeriodAmount
from models.figures import ImpactLine, Milestone, MonthlyValue
from models.gates import SteeringMember
from models.money import Scenario
from models.organization import LegalEntity
from models.people import Person
from models.policy import Role
from models.status import Light
from services import measures


async def load(
    session: AsyncSession, *, measure_id: int, with_status: bool = True
) -> MeasureSnapshot:
    """The measure as the criteria see it now (without the dual status, which emails do not
    show, when `with_status` is False)."""
    measure = await measures.get(session, measure_id=measure_id)
    portfolio_id = await measures.portfolio_of(session, package_id=measure.package_id)
    entity = (
        await session.get(LegalEntity, measure.legal_entity_id) if measure.legal_entity_id else None
    )
    lines = (
        await session.exec(select(ImpactLine).where(ImpactLine.measure_id == measure_id))
    ).all()
    values = (
        await session.exec(
            select(MonthlyValue)
            .where(col(MonthlyValue.impact_line_id).in_([line.id for line in lines]))
            .where(
                col(MonthlyValue.scenario).in_([Scenario.PLAN, Scenario.FORECAST, Scenario.ACTUAL])
            )
            .order_by(col(MonthlyValue.period))
        )
    ).all()
    plan: dict[int, list[PeriodAmount]] = defaultdict(list)
    actual: dict[int, list[date]] = defaultdict(list)
    for value in values:
        if value.scenario is Scenario.PLAN:
            plan[value.impact_line_id].append(
                PeriodAmount(period=value.period, amount=value.amount)
            )
        elif value.scenario is Scenario.ACTUAL:
            actual[value.impact_line_id].append(value.period)
    milestones = (
        await session.exec(select(Milestone).where(Milestone.measure_id == measure_id))
    ).all()
    implementation, potential = (
        await measures.dual_status(session, measure_id=measure_id, today=date.today())
        if with_status
        else (Light.NONE, Light.NONE)
    )
    steering = (
        await session.exec(
            select(SteeringMember.person_id).where(SteeringMember.portfolio_id == portfolio_id)
        )
    ).all()
    return MeasureSnapshot(
        measure_id=measure_id,
        title=measure.title,
        stage=measure.stage,
        portfolio_id=portfolio_id,
        owner_id=measure.owner_id,
        sponsor_id=measure.sponsor_id,
        controller_id=measure.controller_id,
        steering_member_ids=sorted(steering),
        business_unit_id=measure.business_unit_id,
        legal_entity_id=measure.legal_entity_id,
        currency=entity.currency if entity else None,
        baseline_amount=measure.baseline_amount,
        baseline_period=measure.baseline_period,
        baseline_source=measure.baseline_source,
        plan_start=measure.plan_start,
        horizon_months=measure.horizon_months,
        lines=[
            LineSnapshot(
                id=line.id or 0,
                category=line.category,
                description=line.description,
                annual_potential=line.annual_potential,
                plan=plan[line.id or 0],
                actual_periods=actual[line.id or 0],
            )
            for line in lines
        ],
        milestones=[
            MilestoneSnapshot(
                id=m.id or 0,
                title=m.title,
                planned_date=m.planned_date,
                owner_id=m.owner_id,
                done=m.done_date is not None,
                waived=bool(m.waived_reason),
            )
            for m in milestones
        ],
        implementation_status=implementation,
        potential_status=potential,
    )


async def people_in(
    session: AsyncSession, *, measure_id: int, role: Role
) -> tuple[str, list[Person]]:
    """The measure's title and the active people who act for `role` on it (for emails)."""
    measure = await measures.get(session, measure_id=measure_id)
    if role is Role.STEERING_COMMITTEE:
        portfolio_id = await measures.portfolio_of(session, package_id=measure.package_id)
        query = select(Person).join(SteeringMember, col(SteeringMember.person_id) == Person.id)
        query = query.where(SteeringMember.portfolio_id == portfolio_id)
    else:
        person_id = {
            Role.OWNER: measure.owner_id,
            Role.SPONSOR: measure.sponsor_id,
            Role.CONTROLLER: measure.controller_id,
        }[role]
        query = select(Person).where(Person.id == person_id)
    people = (await session.exec(query.where(col(Person.active)).order_by(col(Person.id)))).all()
    return measure.title, list(people)
