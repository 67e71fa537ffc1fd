"""Passing Decided freezes the plan; closure makes verified figures final — enforced by the
database itself, so no channel (API, page, script, SQL) can get around it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.figures import MonthlyValue
from models.measure import Measure
from models.money import Scenario
from models.stages import Stage
from services import totals
from services.db import transaction
from tests.factories import complete_measure, make_org, start_lifecycle
from tests.lifecycle_helpers import Api, line_id, verified_figures

pytestmark = pytest.mark.usefixtures("worker")


async def _change_plan(
    sessions: async_sessionmaker[AsyncSession], measure_id: int, line: int
) -> None:
    async with transaction(sessions) as session:
        await session.exec(
            update(MonthlyValue)  # type: ignore[call-overload]
            .where(
                col(MonthlyValue.impact_line_id) == line,
                col(MonthlyValue.scenario) == Scenario.PLAN,
            )
            .values(amount=Decimal("12000.00"))
        )
        await totals.refresh(session, [measure_id])


async def test_the_plan_is_editable_until_decided_and_frozen_after(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, stage=Stage.DETAILED)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    line = await line_id(sessions, measure_id)
    await _change_plan(sessions, measure_id, line)  # still Detailed: the owner may rework the plan

    await Api(client, measure_id).pass_gate(org, [org.sponsor_id, org.controller_id])

    async with sessions() as session:
        measure = await session.get(Measure, measure_id)
        assert (
            measure is not None and measure.plan_frozen_at is not None and measure.plan_version == 1
        )
    with pytest.raises(DBAPIError, match="plan figures are frozen"):
        await _change_plan(sessions, measure_id, line)
    with pytest.raises(DBAPIError, match="plan figures are frozen"):
        async with transaction(sessions) as session:
            session.add(
                MonthlyValue(
                    impact_line_id=line,
                    scenario=Scenario.PLAN,
                    period=date(2028, 1, 1),
                    amount=Decimal(1),
                )
            )
    with pytest.raises(DBAPIError, match="plan figures are frozen"):
        async with transaction(sessions) as session:
            await session.exec(delete(MonthlyValue).where(col(MonthlyValue.impact_line_id) == line))  # type: ignore[call-overload]
    async with transaction(sessions) as session:  # forecasts and actuals stay the owner's to enter
        session.add(
            MonthlyValue(
                impact_line_id=line,
                scenario=Scenario.FORECAST,
                period=date(2027, 1, 1),
                amount=Decimal(1),
            )
        )
        await session.flush()
        await totals.refresh(session, [measure_id])


async def test_verified_figures_are_final_once_the_measure_is_closed(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, stage=Stage.IMPLEMENTED, implemented=True)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    api = Api(client, measure_id)
    line = await line_id(sessions, measure_id)
    await api.submit(org.owner_id)
    assert (await api.close(org.controller_id, verified_figures(line))).status_code == 200

    with pytest.raises(DBAPIError, match="verified figures are final"):
        async with transaction(sessions) as session:
            await session.exec(
                update(MonthlyValue)
                .where(col(MonthlyValue.scenario) == Scenario.VERIFIED)
                .values(amount=Decimal(1))  # type: ignore[call-overload]
            )
    with pytest.raises(DBAPIError, match="verified figures are final"):
        async with transaction(sessions) as session:
            await session.exec(
                delete(MonthlyValue).where(col(MonthlyValue.scenario) == Scenario.VERIFIED)
            )  # type: ignore[call-overload]
    with pytest.raises(DBAPIError, match="the measure is closed"):
        async with transaction(sessions) as session:
            session.add(
                MonthlyValue(
                    impact_line_id=line,
                    scenario=Scenario.VERIFIED,
                    period=date(2027, 6, 1),
                    amount=Decimal(1),
                )
            )
