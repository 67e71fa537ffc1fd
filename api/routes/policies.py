"""REST API for gate policies: each portfolio's rules as versioned data."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from api.auth import SIGNED_IN, CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.accounts import PortfolioManager
from models.audit import Actor, Channel
from models.organization import Portfolio
from models.people import Person
from models.policy import GatePolicy
from services import access, audit, policies
from services.db import transaction

router = APIRouter(
    responses=SIGNED_IN, prefix="/api/portfolios/{portfolio_id}/gate-policy", tags=["gate policy"]
)


@router.get(
    "",
    response_model=GatePolicy,
    summary="The portfolio's current gate policy",
    responses={404: {"description": "No such portfolio"}},
)
async def current_policy(
    portfolio_id: RowId, person: CurrentPerson, session: SessionDep
) -> GatePolicy:
    return await policies.current(session, portfolio_id=portfolio_id)


@router.put(
    "",
    response_model=GatePolicy,
    status_code=status.HTTP_201_CREATED,
    summary="Publish a new version; gates opened from now on use it, open gates keep theirs",
)
async def publish_policy(
    portfolio_id: RowId, policy: GatePolicy, person: CurrentPerson, sessions: SessionsDep
) -> GatePolicy:
    async with sessions() as session:
        if not await access.manages_portfolio(session, person, portfolio_id):
            raise HTTPException(403, "only the portfolio's managers and admins set its policy")
    actor = Actor.person(person.id, Channel.API)
    async with transaction(sessions) as session:
        return await policies.publish(
            session, portfolio_id=portfolio_id, policy=policy, actor=actor
        )


managers = APIRouter(
    responses=SIGNED_IN, prefix="/api/portfolios/{portfolio_id}/managers", tags=["people"]
)


@managers.put(
    "/{person_id}",
    status_code=204,
    summary="Make a person a manager of the portfolio (admins)",
    responses={404: {"description": "No such portfolio or person"}},
)
async def add_manager(
    portfolio_id: RowId, person_id: RowId, admin: CurrentAdmin, sessions: SessionsDep
) -> Response:
    await _managers(sessions, admin, portfolio_id, person_id, add=True)
    return Response(status_code=204)


@managers.delete(
    "/{person_id}",
    status_code=204,
    summary="Take a person's manager role on the portfolio away (admins)",
    responses={404: {"description": "No such portfolio or person"}},
)
async def remove_manager(
    portfolio_id: RowId, person_id: RowId, admin: CurrentAdmin, sessions: SessionsDep
) -> Response:
    await _managers(sessions, admin, portfolio_id, person_id, add=False)
    return Response(status_code=204)


async def _managers(
    sessions: SessionsDep, admin: Person, portfolio_id: int, person_id: int, *, add: bool
) -> None:
    async with transaction(sessions) as session:
        if await session.get(Portfolio, portfolio_id) is None:
            raise HTTPException(404, f"portfolio {portfolio_id} not found")
        if await session.get(Person, person_id) is None:
            raise HTTPException(404, f"person {person_id} not found")
        row = await session.get(PortfolioManager, (portfolio_id, person_id))
        if add and row is None:
            session.add(PortfolioManager(portfolio_id=portfolio_id, person_id=person_id))
        elif not add and row is not None:
            await session.delete(row)
        else:
            return
        await audit.record(
            session,
            actor=Actor.person(admin.id, Channel.API),
            entity_type="portfolio",
            entity_id=portfolio_id,
            action="portfolio.manager_added" if add else "portfolio.manager_removed",
            after={"person_id": person_id},
        )
