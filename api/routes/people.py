"""People, for admins: create, list, rename, (de)activate, make admin, set a password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import SIGNED_IN, CurrentAdmin
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.people import PersonCreate, PersonPublic, PersonUpdate
from services import people
from services.db import transaction

router = APIRouter(responses=SIGNED_IN, prefix="/api/people", tags=["people"])
ERRORS: dict[int | str, dict[str, Any]] = {403: {"description": "Only an admin may do this"}}


@router.get("", response_model=list[PersonPublic], responses=ERRORS, summary="Everyone")
async def list_people(admin: CurrentAdmin, session: SessionDep) -> list[PersonPublic]:
    return [
        PersonPublic.model_validate(p, from_attributes=True) for p in await people.everyone(session)
    ]


@router.post(
    "",
    response_model=PersonPublic,
    status_code=201,
    responses={**ERRORS, 409: {"description": "Someone already has this email"}},
    summary="Add a person (with a password, to sign in)",
)
async def create_person(
    body: PersonCreate, admin: CurrentAdmin, sessions: SessionsDep
) -> PersonPublic:
    async with transaction(sessions) as session:
        person = await people.add(session, data=body, actor=Actor.person(admin.id, Channel.API))
    return PersonPublic.model_validate(person, from_attributes=True)


@router.patch(
    "/{person_id}",
    response_model=PersonPublic,
    responses={**ERRORS, 404: {"description": "No such person"}},
    summary="Change a person: name, active, admin, password",
)
async def update_person(
    person_id: RowId, body: PersonUpdate, admin: CurrentAdmin, sessions: SessionsDep
) -> PersonPublic:
    async with transaction(sessions) as session:
        person = await people.change(
            session,
            person_id=person_id,
            data=body,
            admin=admin,
            actor=Actor.person(admin.id, Channel.API),
        )
    return PersonPublic.model_validate(person, from_attributes=True)
