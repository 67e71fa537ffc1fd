"""The dual status on known inputs, and computed the same way wherever it is shown."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.figures import ImpactLine, Milestone, MonthlyValue
from models.measure import MeasureCreate
from models.money import ImpactCategory, Scenario
from models.status import Light, achieved, implementation_status, potential_status
from services import measures, snapshot, totals
from services.db import transaction
from tests.factories import TESTER, make_org, measure_payload

TODAY = date(2027, 6, 30)


@pytest.mark.parametrize(
    ("overdue_days", "light"),
    [
        ([], Light.GREEN),
        ([-5], Light.GREEN),
        ([0], Light.GREEN),
        ([14], Light.AMBER),
        ([15], Light.RED),
        ([3, 40], Light.RED),
    ],
)
def test_implementation_status_by_the_most_overdue_milestone(
    overdue_days: list[int], light: Light
) -> None:
    dates = [TODAY - timedelta(days=d) for d in overdue_days]
    assert implementation_status(dates, today=TODAY) is light


@pytest.mark.parametrize(
    ("plan", "reached", "light"),
    [
        ("100", "95", Light.GREEN),
        ("100", "94.99", Light.AMBER),
        ("100", "80", Light.AMBER),
        ("100", "79.99", Light.RED),
        ("0", "5", Light.NONE),
    ],
)
def test_potential_status_thresholds(plan: str, reached: str, light: Light) -> None:
    assert potential_status(Decimal(plan), Decimal(reached)) is light


def test_achieved_takes_the_actual_where_entered_else_the_forecast() -> None:
    forecast = {("a", 1): Decimal(10), ("a", 2): Decimal(10), ("b", 1): Decimal(5)}
    actual = {("a", 1): Decimal(7), ("b", 2): Decimal(1)}
    assert achieved(forecast, actual) == Decimal(7 + 10 + 5 + 1)


async def test_snapshot_and_api_agree_on_the_dual_status(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await make_org(sessions)
    async with transaction(sessions) as session:
        measure, _ = await measures.create(
            session,
            data=MeasureCreate.model_validate(measure_payload(org)),
            actor=TESTER,
        )
        saving = ImpactLine(
            measure_id=measure.id or 0,
            category=ImpactCategory.COST_REDUCTION,
            description="run rate",
        )
        capex = ImpactLine(
            measure_id=measure.id or 0, category=ImpactCategory.CAPEX, description="hardware"
        )
        session.add_all([saving, capex])
        await session.flush()
        rows = [
            (saving, Scenario.PLAN, 1, "100"), (saving, Scenario.PLAN, 2, "100"),
            (saving, Scenario.FORECAST, 1, "90"), (saving, Scenario.FORECAST, 2, "90"),
            (saving, Scenario.ACTUAL, 1, "60"),  # 60 + 90 = 150 of 200: red
            (capex, Scenario.PLAN, 1, "-500"), (capex, Scenario.ACTUAL, 1, "-900"),  # not EBITDA
        ]  # fmt: skip
        session.add_all(
            MonthlyValue(
                impact_line_id=line.id or 0, scenario=s, period=date(2027, m, 1), amount=Decimal(a)
            )
            for line, s, m, a in rows
        )
        session.add(
            Milestone(measure_id=measure.id or 0, title="Go-live", planned_date=date(2020, 1, 1))
        )
        await session.flush()
        await totals.refresh(session, [measure.id or 0])

    async with sessions() as session:
        from_api = await measures.dual_status(
            session, measure_id=measure.id or 0, today=date.today()
        )
        from_snapshot = await snapshot.load(session, measure_id=measure.id or 0)

    assert from_api == (Light.RED, Light.RED)
    assert (from_snapshot.implementation_status, from_snapshot.potential_status) == from_api
