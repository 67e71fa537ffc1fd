"""REST API for the roles people hold on a portfolio: its managers (who shape it, set its gate
policy and create its measures) and its steering committee (who decide large measures and
receive the last escalation). Admins give and take them; everyone who sees the portfolio may
read who holds them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import SIGNED_IN, CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.accounts import PortfolioManager
from models.audit import Actor, Channel
from models.gates import SteeringMember
from models.organization import Portfolio
from models.people import Person, PersonPublic
from services import audit, hierarchy
from services.db import transaction

router = APIRouter(responses=SIGNED_IN, prefix="/api/portfolios/{portfolio_id}", tags=["people"])
RoleName = Literal["managers", "steering-committee"]
TABLES: dict[str, type[SQLModel]] = {
    "managers": PortfolioManager,
    "steering-committee": SteeringMember,
}
EVENT = {"managers": "manager", "steering-committee": "steering_member"}
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
        managers=await _holders(session, PortfolioManager, portfolio_id),
        steering_committee=await _holders(session, SteeringMember, portfolio_id),
    )


async def _holders(session: AsyncSession, table: Any, portfolio_id: int) -> list[PersonPublic]:
    rows = await session.exec(
        select(Person)
        .join(table, col(table.person_id) == Person.id)
        .where(table.portfolio_id == portfolio_id)
        .order_by(col(Person.name))
    )
    return [PersonPublic.model_validate(p, from_attributes=True) for p in rows.all()]


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
    table = TABLES[role]
    async with transaction(sessions) as session:
        if await session.get(Portfolio, portfolio_id) is None:
            raise HTTPException(404, f"portfolio {portfolio_id} not found")
        if await session.get(Person, person_id) is None:
            raise HTTPException(404, f"person {person_id} not found")
        row = await session.get(table, (portfolio_id, person_id))
        if give and row is None:
            session.add(table(portfolio_id=portfolio_id, person_id=person_id))
        elif not give and row is not None:
            await session.delete(row)
        else:
            return  # already so: nothing to record
        verb = "added" if give else "removed"
        await audit.record(
            session,
            actor=Actor.person(admin.id, Channel.API),
            entity_type="portfolio",
            entity_id=portfolio_id,
            action=f"portfolio.{EVENT[role]}_{verb}",
            after={"person_id": person_id},
        )
