"""REST API for gate policies: each portfolio's rules as versioned data."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import SessionDep, SessionsDep
from models.audit import Actor, Channel
from models.policy import GatePolicy
from services import policies
from services.db import transaction

router = APIRouter(prefix="/api/portfolios/{portfolio_id}/gate-policy", tags=["gate policy"])

API_ACTOR = Actor(label="api", channel=Channel.API)


@router.get("", response_model=GatePolicy, summary="The portfolio's current gate policy")
async def current_policy(portfolio_id: int, session: SessionDep) -> GatePolicy:
    return await policies.current(session, portfolio_id=portfolio_id)


@router.put(
    "",
    response_model=GatePolicy,
    status_code=status.HTTP_201_CREATED,
    summary="Publish a new version; gates opened from now on use it, open gates keep theirs",
)
async def publish_policy(
    portfolio_id: int, policy: GatePolicy, sessions: SessionsDep
) -> GatePolicy:
    async with transaction(sessions) as session:
        return await policies.publish(
            session, portfolio_id=portfolio_id, policy=policy, actor=API_ACTOR
        )
