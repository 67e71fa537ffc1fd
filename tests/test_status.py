"""The dual status on known inputs, and computed the same way wherever it is shown."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.figures import ImpactLine, Milestone, MonthlyValue
from models.measure import MeasureCreate
from models.money import ImpactCategory, Scenario
from models.status import (
    Light,
    achieved,
    implementation_status,
    judge_delivery,
    judge_rolled_up_delivery,
    judge_value,
    potential_status,
    rolled_up_delivery,
)
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


@pytest.mark.parametrize(
    ("plan", "reached", "reason"),
    [
        ("100", "95", "95 % of plan achieved (actual where entered, else forecast), at least 95 %"),
        ("100", "94.99", "94 % of plan achieved (actual where entered, else forecast), "
         "below 95 %, at least 80 %"),
        ("100", "79.99", "79 % of plan achieved (actual where entered, else forecast), "
         "below 80 %"),
        ("0", "5", "no planned EBITDA effect to measure against"),
    ],
)  # fmt: skip
def test_the_value_light_says_which_rule_and_which_numbers(
    plan: str, reached: str, reason: str
) -> None:
    judged = judge_value(Decimal(plan), Decimal(reached))

    assert judged.light is potential_status(Decimal(plan), Decimal(reached))
    assert judged.reason == reason


@pytest.mark.parametrize(
    ("due_in_days", "light", "reason"),
    [
        (None, Light.GREEN, "no open milestone"),
        (3, Light.GREEN, "no open milestone overdue (the next is due 03 Jul 2027)"),
        (-1, Light.AMBER, "a milestone due 29 Jun 2027 is 1 day overdue, amber up to 14 days"),
        (-14, Light.AMBER, "a milestone due 16 Jun 2027 is 14 days overdue, amber up to 14 days"),
        (-15, Light.RED, "a milestone due 15 Jun 2027 is 15 days overdue, red beyond 14 days"),
    ],
)
def test_the_delivery_light_says_which_milestone_is_how_late(
    due_in_days: int | None, light: Light, reason: str
) -> None:
    due = None if due_in_days is None else TODAY + timedelta(days=due_in_days)

    judged = judge_delivery(due, today=TODAY)

    assert (judged.light, judged.reason) == (light, reason)
    assert judged.light is implementation_status([due] if due else [], today=TODAY)


_SHARE = re.compile(r"^(\d+) % ")


@given(
    plan=st.decimals(min_value=1, max_value=10**9, places=2),
    reached=st.decimals(min_value=0, max_value=2 * 10**9, places=2),
)
def test_the_share_a_value_reason_prints_never_contradicts_its_light(
    plan: Decimal, reached: Decimal
) -> None:
    judged = judge_value(plan, reached)
    found = _SHARE.match(judged.reason)
    assert found, judged.reason
    shown = int(found.group(1))

    assert judged.light is potential_status(plan, reached)
    expected = Light.GREEN if shown >= 95 else Light.AMBER if shown >= 80 else Light.RED
    assert judged.light is expected


@given(
    total=st.integers(min_value=1, max_value=10**6),
    late_share=st.fractions(min_value=0, max_value=1),
    red_share=st.fractions(min_value=0, max_value=1),
)
def test_the_shares_a_rolled_up_delivery_reason_prints_never_contradict_its_light(
    total: int, late_share: Fraction, red_share: Fraction
) -> None:
    late = Decimal(int(total * late_share))
    red = min(late, Decimal(int(total * red_share)))  # the red measures are among the late ones
    judged = judge_rolled_up_delivery(late, red, Decimal(total), of="planned value")
    on_time = re.search(r"(\d+) % of planned value on time", judged.reason)
    within = re.search(r"(\d+) % (?:of planned value )?within 14 days", judged.reason)

    assert judged.light is rolled_up_delivery(late, red, Decimal(total))
    if judged.light is Light.GREEN:
        assert on_time and int(on_time.group(1)) >= 95
    elif judged.light is Light.AMBER:
        assert on_time and int(on_time.group(1)) < 95
        assert within and int(within.group(1)) >= 80
    else:
        assert within and int(within.group(1)) < 80
