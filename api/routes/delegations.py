"""Delegations over REST: a person names a deputy for a date range, sees and revokes them; an
admin does the same for anyone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter

from api.auth import SIGNED_IN, CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.delegation import DelegationCreate, DelegationPublic
from services import delegations
from services.errors import Forbidden

router = APIRouter(responses=SIGNED_IN, tags=["delegations"])
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only the person themselves (or their deputy, to revoke) or an admin"},
    404: {"description": "No such person or delegation"},
}


@router.get(
    "/api/people/{person_id}/delegations",
    response_model=list[DelegationPublic],
    responses=ERRORS,
    summary="A person's current delegations: their deputies, and whom they deputise for",
)
async def list_for_person(
    person_id: RowId, person: CurrentPerson, session: SessionDep
) -> list[DelegationPublic]:
    if person.id != person_id and not person.is_admin:
        raise Forbidden("only the person themselves or an admin sees their delegations")
    return await delegations.listed(session, person_id=person_id, today=_today())


@router.get(
    "/api/delegations",
    response_model=list[DelegationPublic],
    responses=ERRORS,
    summary="Every current delegation (admins)",
)
async def list_all(admin: CurrentAdmin, session: SessionDep) -> list[DelegationPublic]:
    return await delegations.listed(session, person_id=None, today=_today())


@router.post(
    "/api/people/{person_id}/delegations",
    response_model=DelegationPublic,
    status_code=201,
    responses=ERRORS,
    summary="Name a deputy for a date range (both days included)",
)
async def name_deputy(
    person_id: RowId, body: DelegationCreate, person: CurrentPerson, sessions: SessionsDep
) -> DelegationPublic:
    made = await delegations.name_deputy(
        sessions,
        person_id=person_id,
        data=body,
        by=person,
        actor=Actor.person(person.id, Channel.API),
        today=_today(),
    )
    return await _public(sessions, made.id or 0)


@router.post(
    "/api/delegations/{delegation_id}/revoke",
    response_model=DelegationPublic,
    responses={**ERRORS, 409: {"description": "Already revoked"}},
    summary="End a delegation now",
)
async def revoke(
    delegation_id: RowId, person: CurrentPerson, sessions: SessionsDep
) -> DelegationPublic:
    await delegations.revoke(
        sessions, delegation_id=delegation_id, by=person, actor=Actor.person(person.id, Channel.API)
    )
    return await _public(sessions, delegation_id)


async def _public(sessions: SessionsDep, delegation_id: int) -> DelegationPublic:
    async with sessions() as session:
        return await delegations.one(session, delegation_id=delegation_id, today=_today())


def _today() -> date:
    return datetime.now(UTC).date()
