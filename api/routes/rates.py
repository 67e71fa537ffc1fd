"""REST API for exchange rates: what one unit of a currency is worth in the organization's group
currency. Roll-ups and dashboards convert with them; admins keep them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response

from api.auth import SIGNED_IN, CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.fx import RatePublic, RateSet
from services import hierarchy, rates
from services.db import transaction

router = APIRouter(
    prefix="/api/organizations/{organization_id}/rates",
    tags=["exchange rates"],
    responses=SIGNED_IN,
)
Currency = Annotated[
    str, Path(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$", examples=["USD"])
]
NO_ORG: dict[int | str, dict[str, Any]] = {404: {"description": "No such organization"}}
ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "Only an admin may do this"}}


@router.get("", response_model=list[RatePublic], responses=NO_ORG, summary="The rates in use")
async def list_rates(
    organization_id: RowId, person: CurrentPerson, session: SessionDep
) -> list[RatePublic]:
    level = hierarchy.LEVELS["organization"]
    if await hierarchy.find(session, level, organization_id, person) is None:
        raise HTTPException(404, f"organization {organization_id} not found")
    return [
        RatePublic.model_validate(r, from_attributes=True)
        for r in await rates.of(session, organization_id)
    ]


@router.put(
    "/{currency}",
    response_model=RatePublic,
    responses={**NO_ORG, **ADMIN_ONLY},
    summary="Set the rate of a currency (how many group-currency units one unit is worth)",
)
async def set_rate(
    organization_id: RowId,
    currency: Currency,
    body: RateSet,
    admin: CurrentAdmin,
    sessions: SessionsDep,
) -> RatePublic:
    async with transaction(sessions) as session:
        row = await rates.put(
            session,
            organization_id=organization_id,
            currency=currency,
            rate=body.rate,
            actor=Actor.person(admin.id, Channel.API),
        )
    return RatePublic.model_validate(row, from_attributes=True)


@router.delete(
    "/{currency}",
    status_code=204,
    responses={**NO_ORG, **ADMIN_ONLY},
    summary="Remove a rate (amounts in that currency then show as not converted)",
)
async def remove_rate(
    organization_id: RowId, currency: Currency, admin: CurrentAdmin, sessions: SessionsDep
) -> Response:
    async with transaction(sessions) as session:
        await rates.remove(
            session,
            organization_id=organization_id,
            currency=currency,
            actor=Actor.person(admin.id, Channel.API),
        )
    return Response(status_code=204)
