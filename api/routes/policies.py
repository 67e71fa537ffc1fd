"""REST API for gate policies: each portfolio's rules as versioned data."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.auth import SIGNED_IN, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.policy import GatePolicy
from services import access, policies
from services.db import transaction
from services.errors import NotFound

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
    # A portfolio one may not see answers 404, as if it did not exist.
    if not await access.sees_portfolio(session, person, portfolio_id):
        raise NotFound(f"portfolio {portfolio_id}")
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
