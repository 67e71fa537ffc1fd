"""REST API for gate policies: each portfolio's rules as versioned data."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.auth import CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from models.audit import Actor, Channel
from models.policy import GatePolicy
from services import policies
from services.db import transaction

router = APIRouter(prefix="/api/portfolios/{portfolio_id}/gate-policy", tags=["gate policy"])


@router.get("", response_model=GatePolicy, summary="The portfolio's current gate policy")
async def current_policy(
    portfolio_id: int, person: CurrentPerson, session: SessionDep
) -> GatePolicy:
    return await policies.current(session, portfolio_id=portfolio_id)


@router.put(
    "",
    response_model=GatePolicy,
    status_code=status.HTTP_201_CREATED,
    summary="Publish a new version; gates opened from now on use it, open gates keep theirs",
)
async def publish_policy(
    portfolio_id: int, policy: GatePolicy, admin: CurrentAdmin, sessions: SessionsDep
) -> GatePolicy:
    actor = Actor(person_id=admin.id, label=f"person:{admin.id}", channel=Channel.API)
    async with transaction(sessions) as session:
        return await policies.publish(
            session, portfolio_id=portfolio_id, policy=policy, actor=actor
        )
