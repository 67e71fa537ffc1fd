"""Everything a measure's page shows besides its figures: people, gates with their decisions,
what the open gate still waits for, and the audit history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditEvent
from models.gates import Gate, GateDecisionRecord, GateStatus, SteeringMember
from models.measure import Measure
from models.people import Person
from models.policy import Role
from models.stages import TERMINAL_STAGES, Stage
from services import delegations, measures

HISTORY_SHOWN = 50


@dataclass(frozen=True)
class GateRow:
    gate: Gate
    decisions: list[tuple[GateDecisionRecord, str]]  # with the decider's name

    @property
    def pending(self) -> list[Role]:
        decided = {record.role for record, _ in self.decisions}
        return [Role(r) for r in self.gate.required if Role(r) not in decided]


@dataclass(frozen=True)
class MeasureView:
    measure: Measure
    names: dict[int, str]  # person id → name, for everyone the page mentions
    steering: list[int]
    gates: list[GateRow]  # newest first
    history: list[AuditEvent]  # newest first
    deputies: dict[int, list[int]] = field(default_factory=dict)  # sponsor/controller → today's

    def deputising(self, person_id: int) -> set[Role]:
        """The roles in which the person deputises today (never on a measure they take part in)."""
        m = self.measure
        if person_id in (m.owner_id, m.sponsor_id, m.controller_id):
            return set()
        held = {Role.SPONSOR: m.sponsor_id, Role.CONTROLLER: m.controller_id}
        return {
            role
            for role, holder in held.items()
            if holder is not None and person_id in self.deputies.get(holder, [])
        }

    @property
    def open_gate(self) -> GateRow | None:
        return next((g for g in self.gates if g.gate.status is GateStatus.OPEN), None)

    def roles_of(self, person_id: int) -> set[Role]:
        m = self.measure
        held = {
            Role.OWNER: m.owner_id,
            Role.SPONSOR: m.sponsor_id,
            Role.CONTROLLER: m.controller_id,
        }
        roles = {role for role, holder in held.items() if holder == person_id}
        if person_id in self.steering:
            roles.add(Role.STEERING_COMMITTEE)
        return roles

    def actions_for(self, person_id: int) -> list[str]:
        """The lifecycle actions this person may try from the page (the workflow decides)."""
        stage, roles, gate = self.measure.stage, self.roles_of(person_id), self.open_gate
        if stage in TERMINAL_STAGES:
            return []
        actions: list[str] = []
        if stage is Stage.ON_HOLD:
            return ["resume", "cancel"] if roles & {Role.OWNER, Role.SPONSOR} else []
        if gate is None and Role.OWNER in roles:
            actions.append("submit")
        deciding = roles | self.deputising(person_id)
        if (
            gate is not None
            and gate.gate.target is not Stage.CLOSED
            and person_id != gate.gate.submitted_by
            and deciding & set(gate.pending)
        ):
            actions += ["approve", "reject"]
        if (
            gate is not None
            and gate.gate.target is Stage.CLOSED
            and Role.CONTROLLER in deciding & set(gate.pending)
        ):
            actions += ["verify", "reject"]  # the controller closes, or sends it back
        if roles & {Role.OWNER, Role.SPONSOR}:
            actions += ["hold", "cancel"]
        return actions


async def load(session: AsyncSession, *, measure_id: int) -> MeasureView:
    measure = await measures.get(session, measure_id=measure_id)
    portfolio_id = await measures.portfolio_of(session, package_id=measure.package_id)
    steering = list(
        (
            await session.exec(
                select(SteeringMember.person_id).where(SteeringMember.portfolio_id == portfolio_id)
            )
        ).all()
    )
    gates = list(
        (
            await session.exec(
                select(Gate).where(Gate.measure_id == measure_id).order_by(col(Gate.round).desc())
            )
        ).all()
    )
    records = (
        await session.exec(
            select(GateDecisionRecord)
            .where(col(GateDecisionRecord.gate_id).in_([g.id for g in gates]))
            .order_by(col(GateDecisionRecord.decided_at))
        )
    ).all()
    history = list(
        (
            await session.exec(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "measure", AuditEvent.entity_id == str(measure_id))
                .order_by(col(AuditEvent.id).desc())
                .limit(HISTORY_SHOWN)
            )
        ).all()
    )
    mentioned = {measure.owner_id, measure.sponsor_id, measure.controller_id}
    mentioned |= {r.person_id for r in records} | {g.submitted_by for g in gates}
    mentioned |= {r.on_behalf_of for r in records}
    mentioned |= {e.actor_id for e in history}
    people = (
        await session.exec(select(Person).where(col(Person.id).in_([i for i in mentioned if i])))
    ).all()
    names = {p.id or 0: p.name for p in people}
    return MeasureView(
        measure=measure,
        names=names,
        steering=steering,
        gates=[
            GateRow(
                gate=g,
                decisions=[(r, names.get(r.person_id, "?")) for r in records if r.gate_id == g.id],
            )
            for g in gates
        ],
        history=history,
        deputies=await delegations.deputies(
            session,
            [p for p in (measure.sponsor_id, measure.controller_id) if p is not None],
            datetime.now(UTC).date(),
        ),
    )
