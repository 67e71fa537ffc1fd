"""Gate policies per portfolio: the current version, and saving a new one."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import sqlmodel
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.gates import Gate, GatePolicyVersion
from models.measure import Measure
from models.organization import MeasurePackage, Portfolio, Program, Project
from models.policy import GatePolicy, default_policy, differences
from services import audit
from services.errors import NotFound


async def current(session: AsyncSession, *, portfolio_id: int) -> GatePolicy:
    """The portfolio's newest policy, or the defaults (version 0) when it has none."""
    found = (await session.exec(_current(), params={"portfolio_id": portfolio_id})).first()
    if found is None:
        raise NotFound(f"portfolio {portfolio_id}")
    if found.document is not None:
        return GatePolicy.model_validate(found.document | {"version": found.version})
    return default_policy(found.steering_threshold)


async def of_gate(session: AsyncSession, *, measure_id: int, gate_round: int) -> GatePolicy:
    """The policy a measure's gate opened under (an open gate keeps its version)."""
    version, portfolio_id, threshold = (
        await session.exec(_of_gate(), params={"measure_id": measure_id, "round": gate_round})
    ).one()
    if version == 0:
        return default_policy(threshold)
    stored = (
        await session.exec(
            sqlmodel.select(GatePolicyVersion).where(
                col(GatePolicyVersion.portfolio_id) == portfolio_id,
                col(GatePolicyVersion.version) == version,
            )
        )
    ).one()
    document = stored.document
    return GatePolicy.model_validate(document | {"version": version})


async def history(
    session: AsyncSession, *, portfolio_id: int
) -> list[tuple[GatePolicy, datetime | None, list[str]]]:
    """Every version of the portfolio's policy, newest first, each with when it was published
    (None for the built-in defaults) and what it changed from the version before."""
    portfolio = await session.get(Portfolio, portfolio_id)
    if portfolio is None:
        raise NotFound(f"portfolio {portfolio_id}")
    stored = (
        await session.exec(
            sqlmodel.select(GatePolicyVersion)
            .where(col(GatePolicyVersion.portfolio_id) == portfolio_id)
            .order_by(col(GatePolicyVersion.version))
        )
    ).all()
    before = default_policy(portfolio.steering_threshold)
    versions: list[tuple[GatePolicy, datetime | None, list[str]]] = [(before, None, [])]
    for row in stored:
        policy = GatePolicy.model_validate(row.document | {"version": row.version})
        versions.append((policy, row.created_at, differences(before, policy) or ["No change"]))
        before = policy
    return versions[::-1]


@cache
def _of_gate() -> Any:
    return (
        select(
            col(Gate.policy_version), col(Program.portfolio_id), col(Portfolio.steering_threshold)
        )
        .join(Measure, col(Measure.id) == col(Gate.measure_id))
        .join(MeasurePackage, col(MeasurePackage.id) == col(Measure.package_id))
        .join(Project, col(Project.id) == col(MeasurePackage.project_id))
        .join(Program, col(Program.id) == col(Project.program_id))
        .join(Portfolio, col(Portfolio.id) == col(Program.portfolio_id))
        .where(
            col(Gate.measure_id) == bindparam("measure_id"), col(Gate.round) == bindparam("round")
        )
    )


@cache
def _current() -> Any:
    """The statement behind `current`, built once: every gate and many emails ask."""
    versions = aliased(GatePolicyVersion)
    newest = (
        select(func.max(versions.version))
        .where(col(versions.portfolio_id) == col(Portfolio.id))
        .scalar_subquery()
    )
    return (
        select(
            col(Portfolio.steering_threshold),
            col(GatePolicyVersion.version),
            col(GatePolicyVersion.document),
        )
        .outerjoin(
            GatePolicyVersion,
            and_(
                col(GatePolicyVersion.portfolio_id) == col(Portfolio.id),
                col(GatePolicyVersion.version) == newest,
            ),
        )
        .where(col(Portfolio.id) == bindparam("portfolio_id"))
    )


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
