"""REST API for a measure's milestones: planned, done, or waived with a reason (the delivery
status and the Implemented gate read them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from api.auth import SIGNED_IN, CurrentPerson, visible_measure
from api.deps import SessionsDep
from api.params import RowId
from api.routes.figures import may_edit
from models.audit import Actor, Channel
from models.columns import MAX_ID
from models.figures import Milestone
from models.people import Person
from models.stages import TERMINAL_STAGES
from services import audit, measures
from services.db import transaction
from services.errors import FieldProblem, InvalidInput

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


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    planned_date: date
    owner_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class MilestoneChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    planned_date: date | None = None
    done_date: date | None = None
    waived_reason: str | None = Field(default=None, min_length=1, max_length=1000)


class MilestoneOut(MilestoneIn):
    id: int
    done_date: date | None
    waived_reason: str | None


@router.get("", response_model=list[MilestoneOut], responses=ERRORS, summary="The milestones")
async def list_milestones(
    measure_id: RowId, person: CurrentPerson, sessions: SessionsDep
) -> list[MilestoneOut]:
    async with sessions() as session:
        found = (
            await session.exec(
                select(Milestone)
                .where(Milestone.measure_id == measure_id)
                .order_by(col(Milestone.planned_date))
            )
        ).all()
    return [MilestoneOut.model_validate(m, from_attributes=True) for m in found]


@router.post(
    "", response_model=MilestoneOut, status_code=201, responses=ERRORS, summary="Add a milestone"
)
async def add_milestone(
    measure_id: RowId, body: MilestoneIn, person: CurrentPerson, sessions: SessionsDep
) -> MilestoneOut:
    async with transaction(sessions) as session:
        measure = await measures.get(session, measure_id=measure_id)
        await may_edit(session, person, measure)
        _open(measure.stage)
        if body.owner_id is not None and await session.get(Person, body.owner_id) is None:
            raise InvalidInput([FieldProblem("owner_id", f"person {body.owner_id} does not exist")])
        milestone = Milestone(measure_id=measure_id, **body.model_dump())
        session.add(milestone)
        await session.flush()
        await _audit(session, person, measure_id, "milestone.added", None, milestone)
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
) -> MilestoneOut:
    async with transaction(sessions) as session:
        measure = await measures.get(session, measure_id=measure_id)
        milestone = await session.get(Milestone, milestone_id)
        if milestone is None or milestone.measure_id != measure_id:
            raise HTTPException(404, f"measure {measure_id} has no milestone {milestone_id}")
        if person.id != milestone.owner_id:
            await may_edit(session, person, measure)
        _open(measure.stage)
        before = _shown(milestone)
        for name, value in body.model_dump(exclude_unset=True).items():
            setattr(milestone, name, value)
        session.add(milestone)
        await _audit(session, person, measure_id, "milestone.changed", before, milestone)
    return MilestoneOut.model_validate(milestone, from_attributes=True)


def _open(stage: Any) -> None:
    if stage in TERMINAL_STAGES:
        raise InvalidInput(
            [
                FieldProblem(
                    "measure", f"the measure is {stage.label.lower()}: its milestones are final"
                )
            ]
        )


def _shown(milestone: Milestone) -> dict[str, Any]:
    return milestone.model_dump(mode="json", exclude={"measure_id"})


async def _audit(
    session: Any,
    person: Person,
    measure_id: int,
    action: str,
    before: dict[str, Any] | None,
    milestone: Milestone,
) -> None:
    await audit.record(
        session,
        actor=Actor.person(person.id, Channel.API),
        entity_type="measure",
        entity_id=measure_id,
        action=action,
        before=before,
        after=_shown(milestone),
    )
