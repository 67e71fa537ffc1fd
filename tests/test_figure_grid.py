"""Editing figures in the grid on a measure's page: the owner saves a line, a stale page cannot
overwrite a newer change, bad input saves nothing, frozen and final figures stay as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditEvent
from models.figures import ImpactLine, MonthlyValue
from models.measure import Measure
from models.money import Scenario
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import MONTHLY_PLAN, Org, complete_measure, make_org, with_passwords
from tests.link_helpers import sign_in


async def _measure(sessions: async_sessionmaker[AsyncSession]) -> tuple[Org, int, int]:
    org = await make_org(sessions)
    await with_passwords(sessions, org, READER_PASSWORD)
    measure_id = await complete_measure(sessions, org)
    async with sessions() as session:
        line = (
            await session.exec(select(ImpactLine.id).where(ImpactLine.measure_id == measure_id))
        ).one()
    return org, measure_id, line or 0


async def _grid(http: httpx.AsyncClient, measure_id: int, line_id: int) -> dict[str, str]:
    """The line's form as the page shows it: every field and its value."""
    page = await http.get(f"/measures/{measure_id}")
    assert page.status_code == 200
    form = BeautifulSoup(page.text, "html.parser").select_one(f"form#line-{line_id}")
    assert form is not None, "no editable grid on the page"
    return {str(field["name"]): str(field.get("value", "")) for field in form.select("input")}


async def _stored(sessions: async_sessionmaker[AsyncSession], line_id: int, scenario: Scenario
                  ) -> dict[str, Decimal]:  # fmt: skip
    async with sessions() as session:
        rows = (
            await session.exec(
                select(MonthlyValue).where(
                    MonthlyValue.impact_line_id == line_id, MonthlyValue.scenario == scenario
                )
            )
        ).all()
    return {row.period.isoformat(): row.amount for row in rows}


async def test_the_owner_saves_a_forecast_from_the_grid(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, measure_id, line = await _measure(sessions)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)
    form = await _grid(browser, measure_id, line)
    assert form["plan.2027-01-01"] == "10000.00"  # shown as typed, in EUR's two decimals
    assert form["forecast.2027-01-01"] == ""

    form |= {"forecast.2027-01-01": "9,500.50", "forecast.2027-02-01": "9800"}
    saved = await browser.post(f"/measures/{measure_id}/lines/{line}/figures", data=form)

    assert saved.status_code == 303
    assert await _stored(sessions, line, Scenario.FORECAST) == {
        "2027-01-01": Decimal("9500.5"), "2027-02-01": Decimal("9800")}  # fmt: skip
    assert len(await _stored(sessions, line, Scenario.PLAN)) == 12  # untouched
    async with sessions() as session:
        event = (
            await session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "figures.changed")
                .order_by(col(AuditEvent.id).desc())
            )
        ).first()
    assert event is not None and event.channel == "page" and event.actor_id == org.owner_id
    shown = await _grid(browser, measure_id, line)
    assert shown["forecast.2027-01-01"] == "9500.50"


async def test_a_stale_page_cannot_overwrite_a_newer_change(
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, measure_id, line = await _measure(sessions)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)
    await sign_in(second_browser, "olivia.owner@acme.example", READER_PASSWORD)
    first, second = (
        await _grid(browser, measure_id, line),
        await _grid(second_browser, measure_id, line),
    )
    url = f"/measures/{measure_id}/lines/{line}/figures"
    ok = await browser.post(url, data=first | {"forecast.2027-03-01": "111"})
    assert ok.status_code == 303

    late = await second_browser.post(url, data=second | {"forecast.2027-03-01": "222"})

    assert late.status_code == 409
    assert "someone changed these figures" in late.text
    assert 'value="222"' in late.text  # what they typed is still on the page
    assert await _stored(sessions, line, Scenario.FORECAST) == {"2027-03-01": Decimal("111")}


async def test_bad_input_saves_nothing_of_the_line(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, measure_id, line = await _measure(sessions)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)
    form = await _grid(browser, measure_id, line)
    url = f"/measures/{measure_id}/lines/{line}/figures"
    for bad, why in (("12abc", "is not an amount"), ("1.234", "at most 2 decimal places")):
        answer = await browser.post(
            url, data=form | {"plan.2027-01-01": "1", "actual.2027-01-01": bad}
        )
        assert answer.status_code == 422, bad
        assert why in answer.text and "Nothing was saved" in answer.text
    plan = await _stored(sessions, line, Scenario.PLAN)
    assert plan["2027-01-01"] == MONTHLY_PLAN  # the valid plan change was not saved either
    assert await _stored(sessions, line, Scenario.ACTUAL) == {}


async def test_frozen_plan_and_other_people(
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, measure_id, line = await _measure(sessions)
    async with transaction(sessions) as session:
        measure = await session.get(Measure, measure_id)
        assert measure is not None
        measure.plan_frozen_at = datetime.now(UTC)
        session.add(measure)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)
    form = await _grid(browser, measure_id, line)
    assert "plan.2027-01-01" not in form and "forecast.2027-01-01" in form
    url = f"/measures/{measure_id}/lines/{line}/figures"
    forged = await browser.post(url, data=form | {"etag.plan": '"x"', "plan.2027-01-01": "1"})
    assert forged.status_code == 422 and "frozen" in forged.text
    assert (await _stored(sessions, line, Scenario.PLAN))["2027-01-01"] == MONTHLY_PLAN

    # the sponsor sees the figures but no grid, and cannot post one
    await sign_in(second_browser, "sam.sponsor@acme.example", READER_PASSWORD)
    page = await second_browser.get(f"/measures/{measure_id}")
    assert page.status_code == 200 and f'id="line-{line}"' not in page.text
    own_csrf = BeautifulSoup(page.text, "html.parser").select_one('input[name="csrf"]')
    assert own_csrf is not None  # their session's own value: refused for the role, not the CSRF
    refused = await second_browser.post(
        url, data=form | {"csrf": str(own_csrf["value"]), "forecast.2027-01-01": "5"}
    )
    assert refused.status_code == 403
    assert "Only the owner" in refused.text
    assert await _stored(sessions, line, Scenario.FORECAST) == {}


async def test_verified_figures_posted_to_the_grid_are_refused_with_a_message(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, measure_id, line_id = await _measure(sessions)
    await sign_in(browser, org.owner_email, READER_PASSWORD)
    form = await _grid(browser, measure_id, line_id)

    posted = await browser.post(
        f"/measures/{measure_id}/lines/{line_id}/figures",
        data=form | {"etag.verified": "x", "verified.2027-01-01": "999"},
    )

    assert posted.status_code == 422
    assert "verified figures come only from the controller" in posted.text
    assert await _stored(sessions, line_id, Scenario.VERIFIED) == {}
