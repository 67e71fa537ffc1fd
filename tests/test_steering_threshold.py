"""The steering committee's threshold is in the group currency: a measure's plan is converted
with the organization's rate before the comparison, and without a rate the Decided gate does
not open."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.columns import utcnow
from models.figures import ImpactLine, MonthlyValue
from models.fx import FxRate
from models.money import Scenario
from models.organization import Portfolio
from models.stages import Stage
from services import totals
from services.db import transaction
from tests.factories import add_steering_member, complete_measure, make_org, start_lifecycle
from tests.lifecycle_helpers import Api


async def _decided_gate_of(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    *,
    currency: str,
    monthly: Decimal,
    tag: str = "",
) -> tuple[Api, int, int]:
    """A measure in `currency` at Detailed planning `monthly` a month, its workflow running,
    and a steering committee of one in its portfolio."""
    org = await make_org(sessions, currency=currency, tag=tag)
    await add_steering_member(sessions, org, f"stella.steering{tag}@acme.example")
    measure_id = await complete_measure(sessions, org, stage=Stage.DETAILED)
    async with transaction(sessions) as session:
        lines = select(ImpactLine.id).where(ImpactLine.measure_id == measure_id)
        await session.exec(
            update(MonthlyValue)
            .where(
                col(MonthlyValue.impact_line_id).in_(lines),
                col(MonthlyValue.scenario) == Scenario.PLAN,
            )
            .values(amount=monthly)
        )
        await totals.refresh(session, [measure_id])
        portfolio = await session.get(Portfolio, org.portfolio_id)
        assert portfolio is not None
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    return Api(client, measure_id), org.owner_id, portfolio.organization_id


async def test_a_yen_plan_is_compared_in_euros_and_needs_its_rate(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    # ¥1,000,000 a month: ¥12M a year, about €74,400, far below the €1M threshold.
    api, owner, organization = await _decided_gate_of(
        client, sessions, temporal_env, settings, currency="JPY", monthly=Decimal(1_000_000)
    )

    without_rate = await api.submit(owner)
    async with transaction(sessions) as session:
        session.add(
            FxRate(
                organization_id=organization,
                currency="JPY",
                rate=Decimal("0.0062"),
                updated_at=utcnow(),
            )
        )
    with_rate = await api.submit(owner)

    assert without_rate.status_code == 422
    assert "no exchange rate from JPY into the group currency EUR" in without_rate.text
    assert with_rate.status_code == 201, with_rate.text
    assert with_rate.json()["required"] == ["sponsor", "controller"]  # no steering committee


async def test_a_plan_at_the_threshold_in_the_group_currency_needs_the_committee(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    below, owner_below, _ = await _decided_gate_of(
        client, sessions, temporal_env, settings, currency="EUR", monthly=Decimal("82500")
    )  # €990,000 a year
    at, owner_at, _ = await _decided_gate_of(
        client, sessions, temporal_env, settings, currency="EUR", monthly=Decimal("83334"), tag=".b"
    )  # €1,000,008 a year

    assert (await below.submit(owner_below)).json()["required"] == ["sponsor", "controller"]
    assert "steering_committee" in (await at.submit(owner_at)).json()["required"]
