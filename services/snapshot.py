"""Read everything the gate criteria and the emails look at, in a few queries.

The statements are built once: every gate, every email and every figure check reads a measure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, select
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.criteria import LineSnapshot, MeasureSnapshot, MilestoneSnapshot, PeriodAmount
from models.figures import ImpactLine, Milestone, MonthlyValue
from models.fx import FxRate
from models.gates import SteeringMember
from models.measure import Measure
from models.money import Scenario
from models.organization import (
    LegalEntity,
    MeasurePackage,
    Organization,
    Portfolio,
    Program,
    Project,
)
from models.people import Person
from models.policy import Role
from models.status import Light
from services import measures
from services.errors import NotFound

CRITERIA_SCENARIOS = (Scenario.PLAN, Scenario.ACTUAL)


@dataclass(frozen=True)
class MeasureRows:
    """A measure as stored: its row, where it sits, its lines, values, milestones and steering
    committee. The snapshot (criteria) and the briefing (emails) are both built from it."""

    measure: Row[Any]
    portfolio_id: int
    currency: str | None
    lines: Sequence[Row[Any]]
    values: Sequence[Row[Any]]  # (impact_line_id, scenario, period, amount), by period
    milestones: Sequence[Row[Any]]
    steering_member_ids: list[int] | None  # None: not read

    def people_ids(self, role: Role) -> list[int]:
        """Who acts for `role` on the measure."""
        if role is Role.STEERING_COMMITTEE:
            if self.steering_member_ids is None:
                raise ValueError("the steering committee was not read")
            return self.steering_member_ids
        person = {
            Role.OWNER: self.measure.owner_id,
            Role.SPONSOR: self.measure.sponsor_id,
            Role.CONTROLLER: self.measure.controller_id,
        }[role]
        return [person] if person is not None else []


async def read(
    session: AsyncSession,
    *,
    measure_id: int,
    scenarios: Sequence[Scenario] = CRITERIA_SCENARIOS,
    complete: bool = True,
) -> MeasureRows:
    """The measure's rows, with the monthly values of `scenarios`; NotFound if there is none.

    `complete=False` leaves out the milestones and the steering committee, which only the
    criteria and emails to the committee look at."""
    statements = _statements()
    found = (await session.exec(statements.measure, params={"id": measure_id})).first()
    if found is None:
        raise NotFound(f"measure {measure_id}")
    by_measure = {"measure_id": measure_id}
    values = {"measure_id": measure_id, "scenarios": [s.value for s in scenarios]}
    lines = (await session.exec(statements.lines, params=by_measure)).all()
    amounts = (await session.exec(statements.values, params=values)).all()
    if not complete:
        return MeasureRows(found, found.portfolio_id, found.currency, lines, amounts, [], None)
    committee = {"portfolio_id": found.portfolio_id}
    return MeasureRows(
        measure=found,
        portfolio_id=found.portfolio_id,
        currency=found.currency,
        lines=lines,
        values=amounts,
        milestones=(await session.exec(statements.milestones, params=by_measure)).all(),
        steering_member_ids=list(
            (await session.exec(statements.steering, params=committee)).scalars().all()
        ),
    )


def build(
    rows: MeasureRows, *, status: tuple[Light, Light] = (Light.NONE, Light.NONE)
) -> MeasureSnapshot:
    """The snapshot the criteria look at, from the measure's rows."""
    measure = rows.measure
    plan: dict[int, list[PeriodAmount]] = defaultdict(list)
    actual: dict[int, list[date]] = defaultdict(list)
    for value in rows.values:
        if value.scenario is Scenario.PLAN:
            plan[value.impact_line_id].append(
                PeriodAmount(period=value.period, amount=value.amount)
            )
        elif value.scenario is Scenario.ACTUAL:
            actual[value.impact_line_id].append(value.period)
    return MeasureSnapshot(
        measure_id=measure.id,
        title=measure.title,
        stage=measure.stage,
        portfolio_id=rows.portfolio_id,
        owner_id=measure.owner_id,
        sponsor_id=measure.sponsor_id,
        controller_id=measure.controller_id,
        steering_member_ids=sorted(rows.steering_member_ids or []),
        business_unit_id=measure.business_unit_id,
        legal_entity_id=measure.legal_entity_id,
        currency=rows.currency,
        group_currency=measure.group_currency,
        rate_to_group=measure.rate_to_group,
        baseline_amount=measure.baseline_amount,
        baseline_period=measure.baseline_period,
        baseline_source=measure.baseline_source,
        plan_start=measure.plan_start,
        horizon_months=measure.horizon_months,
        lines=[
            LineSnapshot(
                id=line.id,
                category=line.category,
                description=line.description,
                annual_potential=line.annual_potential,
                plan=plan[line.id],
                actual_periods=actual[line.id],
            )
            for line in rows.lines
        ],
        milestones=[
            MilestoneSnapshot(
                id=m.id,
                title=m.title,
                planned_date=m.planned_date,
                owner_id=m.owner_id,
                done=m.done_date is not None,
                waived=bool(m.waived_reason),
            )
            for m in rows.milestones
        ],
        implementation_status=status[0],
        potential_status=status[1],
    )


async def load(
    session: AsyncSession, *, measure_id: int, with_status: bool = True
) -> MeasureSnapshot:
    """The measure as the criteria see it now (without the dual status, which emails do not
    show, when `with_status` is False)."""
    rows = await read(session, measure_id=measure_id)
    if not with_status:
        return build(rows)
    status = await measures.dual_status(session, measure_id=measure_id, today=date.today())
    return build(rows, status=status)


async def people(session: AsyncSession, ids: Sequence[int]) -> list[Person]:
    """The active people among `ids` (for emails), by id."""
    if not ids:
        return []
    found = await session.exec(_statements().people, params={"ids": list(ids)})
    return list(found.scalars().all())


@dataclass(frozen=True)
class _Statements:
    measure: Any
    lines: Any
    values: Any
    milestones: Any
    steering: Any
    people: Any


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


@cache
def _statements() -> _Statements:
    # Plain table columns, not the models' attributes: Core statements skip the ORM's
    # compile and loading steps, and these run several times for every lifecycle step.
    measure, package, project, program = (
        _table(Measure),
        _table(MeasurePackage),
        _table(Project),
        _table(Program),
    )
    entity, line, value, milestone = (
        _table(LegalEntity),
        _table(ImpactLine),
        _table(MonthlyValue),
        _table(Milestone),
    )
    steering = _table(SteeringMember)
    portfolio, organization, rate = _table(Portfolio), _table(Organization), _table(FxRate)
    measure_id: Any = bindparam("measure_id")
    m = measure.c
    return _Statements(
        measure=select(
            m.id,
            m.title,
            m.stage,
            m.owner_id,
            m.sponsor_id,
            m.controller_id,
            m.business_unit_id,
            m.legal_entity_id,
            m.baseline_amount,
            m.baseline_period,
            m.baseline_source,
            m.plan_start,
            m.horizon_months,
            program.c.portfolio_id,
            entity.c.currency,
            organization.c.group_currency,
            rate.c.rate.label("rate_to_group"),
        )
        .select_from(
            measure.join(package, package.c.id == m.package_id)
            .join(project, project.c.id == package.c.project_id)
            .join(program, program.c.id == project.c.program_id)
            .join(portfolio, portfolio.c.id == program.c.portfolio_id)
            .join(organization, organization.c.id == portfolio.c.organization_id)
            .outerjoin(entity, entity.c.id == m.legal_entity_id)
            .outerjoin(
                rate,
                and_(
                    rate.c.organization_id == organization.c.id,
                    rate.c.currency == entity.c.currency,
                ),
            )
        )
        .where(m.id == bindparam("id")),
        lines=select(line.c.id, line.c.category, line.c.description, line.c.annual_potential)
        .where(line.c.measure_id == measure_id)
        .order_by(line.c.id),
        values=select(value.c.impact_line_id, value.c.scenario, value.c.period, value.c.amount)
        .select_from(value.join(line, line.c.id == value.c.impact_line_id))
        .where(
            line.c.measure_id == measure_id,
            value.c.scenario.in_(bindparam("scenarios", expanding=True)),
        )
        .order_by(value.c.period),
        milestones=select(
            milestone.c.id,
            milestone.c.title,
            milestone.c.planned_date,
            milestone.c.owner_id,
            milestone.c.done_date,
            milestone.c.waived_reason,
        )
        .where(milestone.c.measure_id == measure_id)
        .order_by(milestone.c.id),
        steering=select(steering.c.person_id).where(
            steering.c.portfolio_id == bindparam("portfolio_id")
        ),
        people=select(Person)
        .where(col(Person.id).in_(bindparam("ids", expanding=True)), col(Person.active))
        .order_by(col(Person.id)),
    )
