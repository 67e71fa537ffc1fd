"""Work left with people who were deactivated: the live measures they own, sponsor or control,
and the gate approvals waiting for them, so an admin can hand each over."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.gates import Gate, GateDecisionRecord, GateStatus
from models.measure import Measure
from models.people import Person
from models.policy import Role
from models.stages import TERMINAL_STAGES


@dataclass
class LeftBehind:
    person: Person
    # Each live measure with the roles the person still holds on it, and the roles of those
    # whose approval of the open gate waits for them.
    measures: list[tuple[Measure, list[Role], list[Role]]] = field(default_factory=list)

    @property
    def pending_approvals(self) -> int:
        return sum(len(pending) for _, _, pending in self.measures)


ROLE_COLUMNS = (
    (Role.OWNER, "owner_id"),
    (Role.SPONSOR, "sponsor_id"),
    (Role.CONTROLLER, "controller_id"),
)


async def left_behind(session: AsyncSession) -> list[LeftBehind]:
    """For each inactive person holding a role on a live measure, what to reassign."""
    gone = {
        p.id: p
        for p in (await session.exec(select(Person).where(col(Person.active).is_(False)))).all()
    }
    if not gone:
        return []
    ids = list(gone)
    measures = (
        await session.exec(
            select(Measure)
            .where(col(Measure.stage).notin_(TERMINAL_STAGES))
            .where(
                or_(
                    col(Measure.owner_id).in_(ids),
                    col(Measure.sponsor_id).in_(ids),
                    col(Measure.controller_id).in_(ids),
                )
            )
            .order_by(col(Measure.id))
        )
    ).all()
    pending = await _pending_roles(session, [m.id or 0 for m in measures])
    found: dict[int, LeftBehind] = {}
    for measure in measures:
        for person_id in {getattr(measure, column) for _, column in ROLE_COLUMNS} & set(gone):
            roles = [role for role, column in ROLE_COLUMNS if getattr(measure, column) == person_id]
            waiting = [r for r in roles if r in pending.get(measure.id or 0, set())]
            entry = found.setdefault(person_id, LeftBehind(person=gone[person_id]))
            entry.measures.append((measure, roles, waiting))
    return sorted(found.values(), key=lambda entry: entry.person.name)


async def _pending_roles(session: AsyncSession, measure_ids: list[int]) -> dict[int, set[Role]]:
    """The roles each measure's open gate still waits for."""
    gates = (
        await session.exec(
            select(Gate).where(
                col(Gate.measure_id).in_(measure_ids), Gate.status == GateStatus.OPEN
            )
        )
    ).all()
    decided = {
        (gate_id, Role(role))
        for gate_id, role in (
            await session.exec(
                select(GateDecisionRecord.gate_id, GateDecisionRecord.role).where(
                    col(GateDecisionRecord.gate_id).in_([g.id for g in gates])
                )
            )
        ).all()
    }
    return {
        g.measure_id: {Role(r) for r in g.required if (g.id, Role(r)) not in decided} for g in gates
    }
