"""A measure's milestones: added by whoever edits the measure's figures, marked done, waived with
a reason or re-planned by them or by the milestone's own owner. The delivery status and the
Implemented gate read them. Shared by the REST API and the measure's page."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.figures import Milestone, MilestoneChange, MilestoneIn
from models.measure import Measure
from models.people import Person
from models.stages import TERMINAL_STAGES
from services import access, audit, totals
from services.errors import FieldProblem, Forbidden, InvalidInput, NotFound

MAY_NOT = "only the measure's owner, the milestone's owner, the portfolio's managers and admins"


async def of(session: AsyncSession, measure_id: int) -> list[Milestone]:
    found = await session.exec(
        select(Milestone)
        .where(Milestone.measure_id == measure_id)
        .order_by(col(Milestone.planned_date), col(Milestone.id))
    )
    return list(found.all())


async def add(
    session: AsyncSession, *, measure: Measure, data: MilestoneIn, person: Person, actor: Actor
) -> Milestone:
    if not await access.edits_figures(session, person, measure):
        raise Forbidden(MAY_NOT)
    _open(measure)
    if data.owner_id is not None and await session.get(Person, data.owner_id) is None:
        raise InvalidInput([FieldProblem("owner_id", f"person {data.owner_id} does not exist")])
    milestone = Milestone(measure_id=measure.id or 0, **data.model_dump())
    session.add(milestone)
    await session.flush()
    await totals.refresh_first_open(session, measure.id or 0)
    await _audit(session, actor, measure, "milestone.added", None, milestone)
    return milestone


async def change(
    session: AsyncSession,
    *,
    measure: Measure,
    milestone_id: int,
    data: MilestoneChange,
    person: Person,
    actor: Actor,
) -> Milestone:
    """Apply the fields set in `data`: done, waived with a reason, re-planned, renamed."""
    milestone = await session.get(Milestone, milestone_id, with_for_update=True)
    if milestone is None or milestone.measure_id != measure.id:
        raise NotFound(f"milestone {milestone_id} of measure {measure.id}")
    if person.id != milestone.owner_id and not await access.edits_figures(session, person, measure):
        raise Forbidden(MAY_NOT)
    _open(measure)
    before = _shown(milestone)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(milestone, name, value)
    session.add(milestone)
    await session.flush()
    await totals.refresh_first_open(session, measure.id or 0)
    await _audit(session, actor, measure, "milestone.changed", before, milestone)
    return milestone


def _open(measure: Measure) -> None:
    if measure.stage in TERMINAL_STAGES:
        state = measure.stage.label.lower()
        raise InvalidInput(
            [FieldProblem("measure", f"the measure is {state}: its milestones are final")]
        )


def _shown(milestone: Milestone) -> dict[str, Any]:
    return milestone.model_dump(mode="json", exclude={"measure_id"})


async def _audit(
    session: AsyncSession,
    actor: Actor,
    measure: Measure,
    action: str,
    before: dict[str, Any] | None,
    milestone: Milestone,
) -> None:
    await audit.record(
        session,
        actor=actor,
        entity_type="measure",
        entity_id=measure.id or 0,
        action=action,
        before=before,
        after=_shown(milestone),
    )
