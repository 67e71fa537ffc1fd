"""Forecasts someone stands behind: from the Decided gate until closure the owner confirms or
revises the forecast each month, a monthly Temporal Schedule asks them to, and a forecast left
unconfirmed turns the value status amber — on the page, in the roll-ups, the API and the
Temporal UI alike."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import httpx
import pytest
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models import forecasts as rule
from models.audit import AuditEvent
from models.figures import MonthlyValue
from models.measure import Measure
from models.money import Scenario
from models.stages import Stage
from services import schedules, totals
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import (
    MONTHLY_PLAN,
    Org,
    as_person,
    complete_measure,
    make_org,
    months,
    start_lifecycle,
    with_passwords,
)
from tests.lifecycle_helpers import Api, line_id
from tests.link_helpers import sign_in
from tests.support import CapturingSmtp
from workflows import search_attributes as sa
from workflows.contracts import ForecastReview, ForecastReviewOutcome
from workflows.forecast_review import ForecastReviewWorkflow

pytestmark = pytest.mark.usefixtures("worker")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def today() -> date:
    """Today, as the test starts (a run may cross midnight; a module constant would not)."""
    return date.today()


@pytest.fixture
def long_ago(today: date) -> date:
    """A day the forecast was last confirmed that is too long ago today."""
    return rule.stale_before(today) - timedelta(days=20)


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confirmed", "today", "unconfirmed"),
    [
        (date(2026, 10, 2), date(2026, 11, 30), False),  # October's holds through November
        (date(2026, 10, 2), date(2026, 12, 1), True),
        (date(2026, 10, 31), date(2026, 12, 1), True),
        (date(2026, 11, 1), date(2026, 12, 31), False),
        (date(2026, 12, 15), date(2027, 2, 1), True),  # across the year's end
        (None, date(2027, 2, 1), False),  # not asked for
    ],
)
def test_a_confirmation_holds_through_the_next_calendar_month(
    confirmed: date | None, today: date, unconfirmed: bool
) -> None:
    assert rule.unconfirmed(confirmed, today=today) is unconfirmed


@given(
    st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.dates(date(2000, 1, 1), date(2100, 12, 31))
)
def test_a_forecast_is_unconfirmed_exactly_from_the_day_after_it_was_due(
    confirmed: date, today: date
) -> None:
    assert rule.unconfirmed(confirmed, today=today) is (today > rule.due_by(confirmed))
    assert rule.due_by(confirmed).month != (rule.due_by(confirmed) + timedelta(days=1)).month


# --- helpers -------------------------------------------------------------------------------


async def _decided_on_plan(
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    client: httpx.AsyncClient,
    tag: str = "",
) -> tuple[Org, Api]:
    """A measure through the Decided gate whose owner forecasts the full plan (value green)."""
    org = await make_org(sessions, tag=tag)
    measure_id = await complete_measure(sessions, org, stage=Stage.DETAILED)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    api = Api(client, measure_id)
    await api.pass_gate(org, [org.sponsor_id, org.controller_id])
    line = await line_id(sessions, measure_id)
    async with transaction(sessions) as session:
        session.add_all(
            MonthlyValue(
                impact_line_id=line, scenario=Scenario.FORECAST, period=m, amount=MONTHLY_PLAN
            )
            for m in months()
        )
        await session.flush()
        await totals.refresh(session, [measure_id])
    return org, api


async def _confirmed_on(
    sessions: async_sessionmaker[AsyncSession], measure_id: int, day: date
) -> None:
    """As if the forecast had last been confirmed on `day`."""
    async with transaction(sessions) as session:
        await session.exec(
            update(Measure).where(col(Measure.id) == measure_id).values(forecast_confirmed_on=day)
        )
        await totals.refresh_forecast_confirmed(session, measure_id)


async def _review(
    temporal_env: WorkflowEnvironment, settings: Settings, day: date
) -> ForecastReviewOutcome:
    return await temporal_env.client.execute_workflow(
        ForecastReviewWorkflow.run,
        ForecastReview(day=day),
        id=f"forecast-review-test-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    """Wait until `check` holds: the measure's workflow reads its status after a signal."""
    async with asyncio.timeout(within):
        while not await check():
            await asyncio.sleep(0.05)


async def _value_attribute(client: Client, measure_id: int) -> str | None:
    handle = client.get_workflow_handle(f"measure-{measure_id}")
    return (await handle.describe()).typed_search_attributes.get(sa.POTENTIAL_STATUS)


async def _confirmations(sessions: async_sessionmaker[AsyncSession], measure_id: int) -> list[str]:
    async with sessions() as session:
        found = await session.exec(
            select(AuditEvent.channel).where(
                AuditEvent.entity_type == "measure",
                AuditEvent.entity_id == str(measure_id),
                AuditEvent.action == "forecast.confirmed",
            )
        )
        return [str(channel) for channel in found.all()]


# --- the measure --------------------------------------------------------------------------


async def test_passing_decided_confirms_the_forecast_and_the_page_says_when_it_is_due_next(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    today: date,
) -> None:
    _, api = await _decided_on_plan(sessions, temporal_env, settings, client)

    measure = (await client.get(f"/api/measures/{api.measure_id}")).json()
    assert measure["stage"] == "decided"
    assert measure["forecast_confirmed_on"] == today.isoformat()
    assert measure["potential_status"] == "green"
    page = BeautifulSoup((await reader.get(f"/measures/{api.measure_id}")).text, "html.parser")
    said = page.select_one("#forecast")
    assert said is not None
    assert f"confirmed {today:%d %b %Y}; next confirmation due by " in said.get_text()
    assert f"{rule.due_by(today):%d %b %Y}" in said.get_text()


async def test_a_forecast_left_unconfirmed_turns_amber_everywhere_until_the_owner_confirms_it(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    today: date,
    long_ago: date,
) -> None:
    org, api = await _decided_on_plan(sessions, temporal_env, settings, client)
    await _confirmed_on(sessions, api.measure_id, long_ago)
    await with_passwords(sessions, org, READER_PASSWORD)
    await sign_in(browser, org.owner_email, READER_PASSWORD)

    # The page: amber, with the rule and the day.
    page = BeautifulSoup((await browser.get(f"/measures/{api.measure_id}")).text, "html.parser")
    why = page.select_one("#value-why")
    assert why is not None
    assert why.find_previous_sibling("span", class_="light-amber") is not None
    assert why.get_text().startswith(
        f"forecast not confirmed since {long_ago:%d %b %Y} "
        f"(due by {rule.due_by(long_ago):%d %b %Y}), amber until it is; 100 % of plan achieved"
    )
    # The API and the roll-ups.
    assert (await client.get(f"/api/measures/{api.measure_id}")).json()["potential_status"] == (
        "amber"
    )
    board = (await client.get("/api/dashboard", params={"portfolio_id": org.portfolio_id})).json()
    assert board["total"]["value"] == "amber"
    assert board["total"]["value_reason"].startswith(
        "0 % of planned value has a confirmed forecast, below 95 %"
    )
    # The Temporal UI, once the monthly review has told the measure's workflow.
    assert (await _review(temporal_env, settings, today)).unconfirmed == 1

    async def amber() -> bool:
        return await _value_attribute(temporal_env.client, api.measure_id) == "amber"

    await _eventually(amber)

    # The owner confirms on the page: green again everywhere, and audited.
    page_text = (await browser.get(f"/measures/{api.measure_id}")).text
    csrf = _CSRF.search(page_text)
    assert csrf is not None
    answer = await browser.post(
        f"/measures/{api.measure_id}/forecast-confirmation", data={"csrf": csrf.group(1)}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/measures/{api.measure_id}#forecast"
    measure = (await client.get(f"/api/measures/{api.measure_id}")).json()
    assert (measure["potential_status"], measure["forecast_confirmed_on"]) == (
        "green",
        today.isoformat(),
    )
    board = (await client.get("/api/dashboard", params={"portfolio_id": org.portfolio_id})).json()
    assert board["total"]["value"] == "green"

    async def green() -> bool:
        return await _value_attribute(temporal_env.client, api.measure_id) == "green"

    await _eventually(green)
    assert await _confirmations(sessions, api.measure_id) == ["page"]


async def test_only_those_who_edit_the_figures_confirm_and_only_between_decided_and_closure(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    today: date,
    long_ago: date,
) -> None:
    org, api = await _decided_on_plan(sessions, temporal_env, settings, client)
    await _confirmed_on(sessions, api.measure_id, long_ago)
    url = f"/api/measures/{api.measure_id}/forecast-confirmation"

    refused = await client.post(url, headers=as_person(org.sponsor_id))
    assert refused.status_code == 403
    assert "only the owner" in refused.json()["detail"]
    early = await complete_measure(sessions, org, stage=Stage.DETAILED, title="Not decided yet")
    too_early = await client.post(f"/api/measures/{early}/forecast-confirmation")
    assert too_early.status_code == 422
    assert "from the Decided gate until closure" in too_early.text
    measure = (await client.get(f"/api/measures/{api.measure_id}")).json()
    assert measure["forecast_confirmed_on"] == long_ago.isoformat()
    assert await _confirmations(sessions, api.measure_id) == []

    confirmed = await client.post(url, headers=as_person(org.owner_id))
    assert confirmed.status_code == 200
    assert confirmed.json()["forecast_confirmed_on"] == today.isoformat()
    assert confirmed.json()["potential_status"] == "green"
    assert await _confirmations(sessions, api.measure_id) == ["api"]


async def test_revising_the_forecast_confirms_it(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    today: date,
    long_ago: date,
) -> None:
    org, api = await _decided_on_plan(sessions, temporal_env, settings, client)
    await _confirmed_on(sessions, api.measure_id, long_ago)
    line = await line_id(sessions, api.measure_id)
    url = f"/api/measures/{api.measure_id}/lines/{line}/values/forecast"
    owner = as_person(org.owner_id)
    read = await client.get(url, headers=owner)
    revised = [{"period": m.isoformat(), "amount": "9000.00"} for m in months()]

    saved = await client.put(
        url, json={"values": revised}, headers={**owner, "If-Match": read.headers["ETag"]}
    )

    assert saved.status_code == 200, saved.text
    measure = (await client.get(f"/api/measures/{api.measure_id}")).json()
    assert measure["forecast_confirmed_on"] == today.isoformat()
    assert measure["potential_status"] == "amber"  # 9,000 of 10,000 a month: the figures' own


# --- the monthly review ---------------------------------------------------------------------


async def test_the_monthly_review_asks_each_owner_once_in_one_email_with_links_to_the_figures(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    today: date,
    long_ago: date,
) -> None:
    org, stale = await _decided_on_plan(sessions, temporal_env, settings, client)
    await _confirmed_on(sessions, stale.measure_id, long_ago)
    fresh = await complete_measure(sessions, org, stage=Stage.IMPLEMENTED, title="Fresh one")
    await _confirmed_on(sessions, fresh, today.replace(day=1) - timedelta(days=1))
    done = await complete_measure(sessions, org, stage=Stage.IMPLEMENTED, title="Asked already")
    await _confirmed_on(sessions, done, today.replace(day=1))  # confirmed this month
    await complete_measure(sessions, org, stage=Stage.DETAILED, title="Before Decided")
    before = len(smtp.messages)

    outcome = await _review(temporal_env, settings, today)

    assert (outcome.owners, outcome.measures, outcome.unconfirmed) == (1, 2, 1)
    sent = smtp.messages[before:]
    assert [m["To"] for m in sent] == [org.owner_email]
    assert sent[0]["Subject"] == (
        f"[ValueGate] Confirm or revise your forecasts for {today:%B %Y} (2 measures)"
    )
    body = sent[0].get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"M-{stale.measure_id} Decommission the legacy SAN" in text
    assert f"Forecast last confirmed {long_ago:%d %b %Y} (overdue)" in text
    assert f"M-{fresh} Fresh one" in text
    assert "Asked already" not in text and "Before Decided" not in text
    assert f"{settings.public_base_url}measures/{fresh}#forecast" in text
    assert text.index(f"M-{stale.measure_id} ") < text.index(f"M-{fresh} ")  # oldest first

    await _review(temporal_env, settings, today)  # again in the same month: nobody is asked twice
    assert len(smtp.messages) == before + 1


async def test_the_review_is_a_temporal_schedule_on_the_first_of_each_month(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    today: date,
    long_ago: date,
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, stage=Stage.IMPLEMENTED)
    await _confirmed_on(sessions, measure_id, long_ago)
    schedule_id = f"forecast-review-{uuid.uuid4()}"
    await schedules.ensure_forecast_review(
        temporal_env.client, task_queue="somewhere-else", schedule_id=schedule_id
    )
    # A worker starting again (here with the test's task queue) brings the schedule up to date.
    await schedules.ensure_forecast_review(
        temporal_env.client, task_queue=settings.temporal_task_queue, schedule_id=schedule_id
    )
    handle = temporal_env.client.get_schedule_handle(schedule_id)
    try:
        described = await handle.describe()
        (calendar,) = described.schedule.spec.calendars
        assert [(r.start, r.end) for r in calendar.day_of_month] == [(1, 1)]
        assert [(r.start, r.end) for r in calendar.hour] == [(6, 6)]
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.task_queue == settings.temporal_task_queue
        next_run = described.info.next_action_times[0]
        assert (next_run.day, next_run.hour, next_run.minute) == (1, 6, 0)
        before = len(smtp.messages)

        await handle.trigger()

        async def started() -> bool:
            return bool((await handle.describe()).info.recent_actions)

        await _eventually(started)
        run = (await handle.describe()).info.recent_actions[0].action
        outcome = await temporal_env.client.get_workflow_handle_for(
            ForecastReviewWorkflow.run, run.workflow_id, run_id=run.first_execution_run_id
        ).result()
        assert (outcome.owners, outcome.unconfirmed) == (1, 1)
        assert org.owner_email in [m["To"] for m in smtp.messages[before:]]
    finally:
        await handle.delete()


async def test_my_work_asks_the_owner_for_the_forecast(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    today: date,
    long_ago: date,
) -> None:
    org = await make_org(sessions)
    asked = await complete_measure(sessions, org, stage=Stage.IMPLEMENTED, title="Asked")
    await _confirmed_on(sessions, asked, long_ago)
    confirmed = await complete_measure(sessions, org, stage=Stage.IMPLEMENTED, title="Confirmed")
    await _confirmed_on(sessions, confirmed, today)
    await with_passwords(sessions, org, READER_PASSWORD)
    await sign_in(browser, org.owner_email, READER_PASSWORD)

    page = BeautifulSoup((await browser.get("/my-work")).text, "html.parser")

    steps = {
        row.select("td")[0].get_text(strip=True): row.select("td")[2].get_text(strip=True)
        for row in page.select("table.grid tbody tr")
        if len(row.select("td")) == 3 and row.select("td")[0].a is not None
    }
    assert steps[f"M-{asked} Asked"] == (
        f"confirm or revise the forecast (last confirmed {long_ago:%d %b %Y}, "
        f"due by {rule.due_by(long_ago):%d %b %Y}); submit the gate to Closed"
    )
    assert steps[f"M-{confirmed} Confirmed"] == "submit the gate to Closed"
