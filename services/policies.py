"""Gate policies per portfolio: the current version, and saving a new one."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.gates import GatePolicyVersion
from models.organization import Portfolio
from models.policy import GatePolicy, default_policy
from services import audit
from services.errors import NotFound


async def current(session: AsyncSession, *, portfolio_id: int) -> GatePolicy:
    """The portfolio's newest policy, or the defaults (version 0) when it has none."""
    row = (
        await session.exec(
            select(GatePolicyVersion)
            .where(GatePolicyVersion.portfolio_id == portfolio_id)
            .order_by(col(GatePolicyVersion.version).desc())
            .limit(1)
        )
    ).first()
    if row is not None:
        return GatePolicy.model_validate(row.document | {"version": row.version})
    portfolio = await session.get(Portfolio, portfolio_id)
    if portfolio is None:
        raise NotFound(f"portfolio {portfolio_id}")
    return default_policy(portfolio.steering_threshold)


async def publish(
    session: AsyncSession, *, portfolio_id: int, policy: GatePolicy, actor: Actor
) -> GatePolicy:
    """Save `policy` as the portfolio's next version; gates opened from now on use it."""
    before = await current(session, portfolio_id=portfolio_id)
    version = before.version + 1
    document = policy.model_dump(mode="json", exclude={"version"})
    session.add(GatePolicyVersion(portfolio_id=portfolio_id, version=version, document=document))
    await audit.record(
        session,
        actor=actor,
        entity_type="portfolio",
        entity_id=portfolio_id,
        action="gate_policy.published",
        before={"version": before.version},
        after={"version": version, **document},
    )
    return policy.model_copy(update={"version": version})
