"""People, for admins: create, list, rename, (de)activate, make admin, set a password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import SIGNED_IN, CurrentAdmin
from api.deps import SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.people import Person, PersonCreate, PersonPublic, PersonUpdate
from services import accounts, audit
from services.db import transaction
from services.errors import FieldProblem, InvalidInput

router = APIRouter(responses=SIGNED_IN, prefix="/api/people", tags=["people"])
ERRORS: dict[int | str, dict[str, Any]] = {403: {"description": "Only an admin may do this"}}


@router.get("", response_model=list[PersonPublic], responses=ERRORS, summary="Everyone")
async def list_people(admin: CurrentAdmin, sessions: SessionsDep) -> list[PersonPublic]:
    async with sessions() as session:
        people = (await session.exec(select(Person).order_by(col(Person.id)))).all()
    return [PersonPublic.model_validate(p, from_attributes=True) for p in people]


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
    person = Person(
        email=body.email.lower(),
        name=body.name,
        is_admin=body.is_admin,
        password_hash=accounts.hash_password(body.password) if body.password else None,
    )
    try:
        async with transaction(sessions) as session:
            session.add(person)
            await session.flush()
            await _audit(session, admin, person, "person.created", _shown(person))
    except IntegrityError as error:
        raise HTTPException(409, f"someone already has the email {person.email}") from error
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
    if person_id == admin.id and (body.active is False or body.is_admin is False):
        raise InvalidInput(
            [
                FieldProblem(
                    "active", "you cannot deactivate yourself or take away your own admin role"
                )
            ]
        )
    async with transaction(sessions) as session:
        person = await session.get(Person, person_id)
        if person is None:
            raise HTTPException(404, f"person {person_id} not found")
        before = _shown(person)
        # a null means "leave as it is": name, active and admin are never empty
        changes = body.model_dump(exclude_unset=True, exclude_none=True, exclude={"password"})
        for name, value in changes.items():
            setattr(person, name, value)
        if body.password:
            person.password_hash = accounts.hash_password(body.password)
        session.add(person)
        after = _shown(person) | ({"password": "changed"} if body.password else {})
        await _audit(session, admin, person, "person.updated", after, before)
    return PersonPublic.model_validate(person, from_attributes=True)


def _shown(person: Person) -> dict[str, object]:
    return {
        "email": person.email,
        "name": person.name,
        "active": person.active,
        "is_admin": person.is_admin,
    }


async def _audit(
    session: AsyncSession,
    admin: Person,
    person: Person,
    action: str,
    after: dict[str, object],
    before: dict[str, object] | None = None,
) -> None:
    await audit.record(
        session,
        actor=Actor.person(admin.id, Channel.API),
        entity_type="person",
        entity_id=person.id or 0,
        action=action,
        before=before,
        after=after,
    )
