"""What a person has to do: gates waiting for their decision, their measures' next steps (a
forecast to confirm among them), and their overdue milestones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import forecasts
from models.delegation import Delegation
from models.figures import Milestone
from models.gates import Gate, GateDecisionRecord, GateStatus, SteeringMember
from models.measure import Measure
from models.organization import MeasurePackage, Program, Project
from models.people import Person
from models.policy import Role
from models.stages import TERMINAL_STAGES, Stage, next_stage


@dataclass(frozen=True)
class PendingDecision:
    measure: Measure
    gate: Gate
    role: Role
    on_behalf_of: Person | None = None  # the approver the person deputises for


@dataclass(frozen=True)
class OwnedMeasure:
    measure: Measure
    next_step: str


@dataclass(frozen=True)
class MyWork:
    decisions: list[PendingDecision]
    measures: list[OwnedMeasure]
    overdue: list[tuple[Milestone, Measure]]


async def load(session: AsyncSession, *, person_id: int, today: date) -> MyWork:
    live = col(Measure.stage).notin_(TERMINAL_STAGES)
    mine = (
        await session.exec(
            select(Measure)
            .where(live)
            .where(
                or_(
                    Measure.owner_id == person_id,
                    Measure.sponsor_id == person_id,
                    Measure.controller_id == person_id,
                )
            )
            .order_by(col(Measure.id))
        )
    ).all()
    steering_portfolios = set(
        (
            await session.exec(
                select(SteeringMember.portfolio_id).where(SteeringMember.person_id == person_id)
            )
        ).all()
    )
    open_gates = (
        await session.exec(
            select(Gate, Measure, Program.portfolio_id)
            .join(Measure, col(Measure.id) == Gate.measure_id)
            .join(MeasurePackage, col(MeasurePackage.id) == Measure.package_id)
            .join(Project, col(Project.id) == MeasurePackage.project_id)
            .join(Program, col(Program.id) == Project.program_id)
            .where(Gate.status == GateStatus.OPEN)
            .order_by(col(Gate.submitted_at))
        )
    ).all()
    decided = {
        (gate_id, Role(role))
        for gate_id, role in (
            await session.exec(
                select(GateDecisionRecord.gate_id, GateDecisionRecord.role).where(
                    col(GateDecisionRecord.gate_id).in_([g.id for g, _, _ in open_gates])
                )
            )
        ).all()
    }
    principals = await _deputised_for(session, person_id, today)
    decisions = []
    for gate, measure, portfolio_id in open_gates:
        held = {
            Role.SPONSOR: measure.sponsor_id == person_id,
            Role.CONTROLLER: measure.controller_id == person_id,
            Role.STEERING_COMMITTEE: portfolio_id in steering_portfolios,
        }
        holders = {Role.SPONSOR: measure.sponsor_id, Role.CONTROLLER: measure.controller_id}
        takes_part = person_id in (measure.owner_id, *holders.values(), gate.submitted_by)
        for required in gate.required:
            role = Role(required)
            if (gate.id, role) in decided or gate.submitted_by == person_id:
                continue
            if held.get(role):
                decisions.append(PendingDecision(measure=measure, gate=gate, role=role))
                break
            principal = principals.get(holders.get(role) or 0)
            if principal is not None and not takes_part:
                decisions.append(PendingDecision(measure, gate, role, on_behalf_of=principal))
                break
    gated = {g.measure_id for g, _, _ in open_gates}
    owned = [
        OwnedMeasure(measure=m, next_step=_next_step(m, m.id in gated, today))
        for m in mine
        if m.owner_id == person_id
    ]
    overdue = (
        await session.exec(
            select(Milestone, Measure)
            .join(Measure, col(Measure.id) == Milestone.measure_id)
            .where(
                Milestone.owner_id == person_id,
                col(Milestone.done_date).is_(None),
                col(Milestone.waived_reason).is_(None),
                col(Milestone.planned_date) < today,
                live,
            )
            .order_by(col(Milestone.planned_date))
        )
    ).all()
    return MyWork(decisions=decisions, measures=owned, overdue=list(overdue))


async def _deputised_for(session: AsyncSession, person_id: int, today: date) -> dict[int, Person]:
    """The people for whom `person_id` deputises today, by id."""
    rows = (
        await session.exec(
            select(Person)
            .join(Delegation, col(Delegation.person_id) == Person.id)
            .where(
                Delegation.deputy_id == person_id,
                col(Delegation.revoked_at).is_(None),
                Delegation.starts_on <= today,
                Delegation.ends_on >= today,
            )
        )
    ).all()
    return {p.id or 0: p for p in rows}


def _next_step(measure: Measure, gate_open: bool, today: date) -> str:
    if measure.stage is Stage.ON_HOLD:
        return f"on hold until the review on {measure.hold_review_date}"
    steps = []
    confirmed = measure.forecast_confirmed_on
    if measure.stage in forecasts.ASKED_IN and confirmed and confirmed < today.replace(day=1):
        steps.append(
            f"confirm or revise the forecast (last confirmed {confirmed:%d %b %Y}, "
            f"due by {forecasts.due_by(confirmed):%d %b %Y})"
        )
    upcoming = next_stage(measure.stage)
    if gate_open:
        steps.append("waiting for the gate's approvers")
    elif upcoming:
        steps.append(f"submit the gate to {upcoming.label}")
    return "; ".join(steps) or "nothing"
