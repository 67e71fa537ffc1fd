"""REST API for the roles people hold on a portfolio: its managers (who shape it, set its gate
policy and create its measures) and its steering committee (who decide large measures and
receive the last escalation). Admins give and take them; everyone who sees the portfolio may
read who holds them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel

from api.auth import SIGNED_IN, CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.people import Person, PersonPublic
from services import hierarchy, portfolio_roles
from services.db import transaction
from services.portfolio_roles import RoleName

router = APIRouter(responses=SIGNED_IN, prefix="/api/portfolios/{portfolio_id}", tags=["people"])
MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "No such portfolio or person"}}


class PortfolioPeople(BaseModel):
    managers: list[PersonPublic]
    steering_committee: list[PersonPublic]


@router.get(
    "/people",
    response_model=PortfolioPeople,
    responses=MISSING,
    summary="Who manages the portfolio and who sits on its steering committee",
)
async def portfolio_people(
    portfolio_id: RowId, person: CurrentPerson, session: SessionDep
) -> PortfolioPeople:
    level = hierarchy.LEVELS["portfolio"]
    if await hierarchy.find(session, level, portfolio_id, person) is None:
        raise HTTPException(404, f"portfolio {portfolio_id} not found")
    return PortfolioPeople(
        managers=_public(await portfolio_roles.holders(session, "managers", portfolio_id)),
        steering_committee=_public(
            await portfolio_roles.holders(session, "steering-committee", portfolio_id)
        ),
    )


@router.put(
    "/{role}/{person_id}",
    status_code=204,
    responses=MISSING,
    summary="Give a person the role on the portfolio (admins)",
)
async def give_role(
    portfolio_id: RowId,
    role: RoleName,
    person_id: RowId,
    admin: CurrentAdmin,
    sessions: SessionsDep,
) -> Response:
    await _change(sessions, admin, role, portfolio_id, person_id, give=True)
    return Response(status_code=204)


@router.delete(
    "/{role}/{person_id}",
    status_code=204,
    responses=MISSING,
    summary="Take a person's role on the portfolio away (admins)",
)
async def take_role(
    portfolio_id: RowId,
    role: RoleName,
    person_id: RowId,
    admin: CurrentAdmin,
    sessions: SessionsDep,
) -> Response:
    await _change(sessions, admin, role, portfolio_id, person_id, give=False)
    return Response(status_code=204)


async def _change(
    sessions: SessionsDep,
    admin: Person,
    role: str,
    portfolio_id: int,
    person_id: int,
    *,
    give: bool,
) -> None:
    async with transaction(sessions) as session:
        await portfolio_roles.change(
            session,
            role=role,
            portfolio_id=portfolio_id,
            person_id=person_id,
            give=give,
            actor=Actor.person(admin.id, Channel.API),
        )


def _public(people: list[Person]) -> list[PersonPublic]:
    return [PersonPublic.model_validate(p, from_attributes=True) for p in people]
