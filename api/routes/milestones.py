"""REST API for a measure's milestones: planned, done, or waived with a reason (the delivery
status and the Implemented gate read them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.auth import SIGNED_IN, CurrentPerson, visible_measure
from api.deps import SessionsDep, TemporalDep
from api.params import RowId
from models.audit import Actor, Channel
from models.figures import MilestoneChange, MilestoneIn, MilestoneOut
from services import lifecycle, measures, milestones
from services.db import transaction

router = APIRouter(
    responses=SIGNED_IN,
    prefix="/api/measures/{measure_id}/milestones",
    tags=["milestones"],
    dependencies=[Depends(visible_measure)],
)
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only the measure's owner, the milestone's owner, managers and admins"},
    404: {"description": "No such measure or milestone"},
    422: {"description": "Bad input, or the measure is closed or cancelled"},
}


@router.get("", response_model=list[MilestoneOut], responses=ERRORS, summary="The milestones")
async def list_milestones(
    measure_id: RowId, person: CurrentPerson, sessions: SessionsDep
) -> list[MilestoneOut]:
    async with sessions() as session:
        found = await milestones.of(session, measure_id)
    return [MilestoneOut.model_validate(m, from_attributes=True) for m in found]


@router.post(
    "", response_model=MilestoneOut, status_code=201, responses=ERRORS, summary="Add a milestone"
)
async def add_milestone(
    measure_id: RowId,
    body: MilestoneIn,
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
) -> MilestoneOut:
    async with transaction(sessions) as session:
        measure = await measures.get(session, measure_id=measure_id)
        milestone = await milestones.add(
            session,
            measure=measure,
            data=body,
            person=person,
            actor=Actor.person(person.id, Channel.API),
        )
    await lifecycle.figures_changed(temporal, measure_id)
    return MilestoneOut.model_validate(milestone, from_attributes=True)


@router.patch(
    "/{milestone_id}",
    response_model=MilestoneOut,
    responses=ERRORS,
    summary="Mark a milestone done, waive it with a reason, or re-plan it",
)
async def change_milestone(
    measure_id: RowId,
    milestone_id: RowId,
    body: MilestoneChange,
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
) -> MilestoneOut:
    async with transaction(sessions) as session:
        measure = await measures.get(session, measure_id=measure_id)
        milestone = await milestones.change(
            session,
            measure=measure,
            milestone_id=milestone_id,
            data=body,
            person=person,
            actor=Actor.person(person.id, Channel.API),
        )
    await lifecycle.figures_changed(temporal, measure_id)
    return MilestoneOut.model_validate(milestone, from_attributes=True)
