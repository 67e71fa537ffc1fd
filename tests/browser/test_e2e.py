"""End to end in a real headless Chromium: the owner signs in, edits a figure in the grid and
submits the gate; the sponsor approves through the link in the email they received. And a whole
measure made in the browser, passing two gates by a deputy and after a reassignment.

(Chromium and the server: tests/browser/conftest.py.)
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.accounts import PortfolioManager
from models.figures import ImpactLine, MonthlyValue
from models.gates import GateDecisionRecord
from models.measure import Measure
from models.money import Scenario
from models.policy import Role
from models.stages import Stage
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import (
    add_person,
    complete_measure,
    make_org,
    start_lifecycle,
    with_passwords,
)
from tests.lifecycle_helpers import db_stage
from tests.link_helpers import email_to, links_in
from tests.support import CapturingSmtp

pytestmark = pytest.mark.usefixtures("worker")


async def test_sign_in_edit_a_figure_submit_and_approve_by_email_link(
    server: str,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    smtp: CapturingSmtp,
    chromium: Any,
) -> None:
    org = await make_org(sessions)
    await with_passwords(sessions, org, READER_PASSWORD)
    measure_id = await complete_measure(sessions, org, stage=Stage.DEFINED)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)

    owner = await (await chromium.new_context()).new_page()
    await owner.goto(f"{server}/measures/{measure_id}")
    assert "/sign-in" in owner.url  # signed out: off to the sign-in page and back
    await owner.fill('input[name="email"]', org.owner_email)
    await owner.fill('input[name="password"]', READER_PASSWORD)
    await owner.click('button[type="submit"]')
    await owner.wait_for_url(f"{server}/measures/{measure_id}")

    await owner.fill('input[aria-label="forecast 2027-01"]', "9750.25")
    await owner.click('form[id^="line-"] button[type="submit"]')
    await owner.wait_for_load_state()
    field = owner.locator('input[aria-label="forecast 2027-01"]')
    assert await field.input_value() == "9750.25"

    await owner.click('button:has-text("Submit the gate to Identified")')
    await owner.wait_for_load_state()
    assert "Open gate: to Identified" in await owner.content()

    email = await email_to(smtp, "sam.sponsor@", "Decision needed: gate to Identified")
    approve = links_in(email)["Approve"]
    assert approve.startswith(f"{server}/links/")

    sponsor = await (await chromium.new_context()).new_page()  # another person's browser
    await sponsor.goto(approve)
    assert await db_stage(sessions, measure_id) is Stage.DEFINED  # opening is not approving
    await sponsor.fill('textarea[name="comment"]', "Agreed, go ahead")
    await sponsor.click('button:has-text("Approve")')
    await sponsor.wait_for_load_state()
    assert "Thank you" in await sponsor.content()

    assert await db_stage(sessions, measure_id) is Stage.IDENTIFIED
    async with sessions() as session:
        forecast = (
            await session.exec(
                select(MonthlyValue.amount)
                .join(ImpactLine, ImpactLine.id == MonthlyValue.impact_line_id)  # type: ignore[arg-type]
                .where(
                    ImpactLine.measure_id == measure_id, MonthlyValue.scenario == Scenario.FORECAST
                )
            )
        ).all()
    assert forecast == [Decimal("9750.25")]


async def _sign_in(chromium: Any, server: str, email: str) -> Any:
    page = await (await chromium.new_context()).new_page()
    await page.goto(f"{server}/sign-in")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', READER_PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_load_state()
    return page


async def _approve_from_email(chromium: Any, smtp: CapturingSmtp, to: str, gate: str) -> str:
    """The person opens the Approve link of the email they received, in their own browser
    (not signed in), and approves; the page the link showed after."""
    email = await email_to(smtp, to, f"Decision needed: gate to {gate}")
    page = await (await chromium.new_context()).new_page()
    await page.goto(links_in(email)["Approve"])
    await page.click('button:has-text("Approve")')
    await page.wait_for_load_state()
    return str(await page.content())


async def test_a_measure_made_in_the_browser_passes_two_gates_by_deputy_and_reassignment(
    server: str,
    sessions: async_sessionmaker[AsyncSession],
    smtp: CapturingSmtp,
    chromium: Any,
) -> None:
    """A transformation office's day without the API: the owner (a portfolio manager) creates
    the measure and fills it in; the sponsor, away, names a deputy, who approves Identified from
    the emailed link on the sponsor's behalf; while Detailed waits for the controller, the owner
    hands the control to a new person, whose emailed link approves it."""
    org = await make_org(sessions)
    await with_passwords(sessions, org, READER_PASSWORD)
    dana = await add_person(
        sessions, email="dana.deputy@acme.example", name="Dana Deputy", password=READER_PASSWORD
    )
    nina = await add_person(
        sessions, email="nina.new@acme.example", name="Nina New", password=READER_PASSWORD
    )
    async with transaction(sessions) as session:
        session.add(PortfolioManager(portfolio_id=org.portfolio_id, person_id=org.owner_id))

    owner = await _sign_in(chromium, server, org.owner_email)
    await owner.goto(f"{server}/measures/new")
    await owner.fill('input[name="title"]', "Retire the tape library")
    for field, name in (("owner_id", "Olivia"), ("sponsor_id", "Sam"), ("controller_id", "Cleo")):
        await owner.select_option(f'select[name="{field}"]', label=f"{name} {_surname(name)}")
    await owner.select_option('select[name="business_unit_id"]', str(org.business_unit_id))
    await owner.select_option('select[name="legal_entity_id"]', str(org.legal_entity_id))
    await owner.fill('input[name="plan_start"]', "2027-01")
    await owner.fill('input[name="horizon_months"]', "12")
    await owner.fill('input[name="baseline_amount"]', "250000")
    await owner.fill('input[name="baseline_period"]', "FY2026")
    await owner.fill('input[name="baseline_source"]', "GL account 6100, 2026")
    await owner.click('button:has-text("Create the measure")')
    await owner.wait_for_url(re.compile(r".*/measures/\d+$"))
    measure_id = int(owner.url.rsplit("/", 1)[1])

    await owner.click(".line-add summary")
    await owner.select_option("#new-line-category", "cost_reduction")
    await owner.fill("#new-line-description", "Tape licences")
    await owner.fill("#new-line-potential", "120000")
    await owner.click('button:has-text("Add the line")')
    await owner.wait_for_load_state()
    for month in range(1, 13):
        await owner.fill(f'input[aria-label="plan 2027-{month:02d}"]', "10000")
    await owner.click('button:has-text("Save Tape licences")')
    await owner.wait_for_load_state()
    await owner.fill('form[action$="/milestones"] input[name="title"]', "Tapes shipped out")
    await owner.fill('form[action$="/milestones"] input[name="planned_date"]', "2027-03-31")
    await owner.click('button:has-text("Add milestone")')
    await owner.wait_for_load_state()

    sponsor = await _sign_in(chromium, server, "sam.sponsor@acme.example")
    await sponsor.goto(f"{server}/my-work")
    await sponsor.select_option('select[name="deputy_id"]', label="Dana Deputy")
    await sponsor.fill('input[name="ends_on"]', (date.today() + timedelta(days=14)).isoformat())
    await sponsor.click('button:has-text("Name deputy")')
    await sponsor.wait_for_load_state()
    assert "Dana Deputy" in await sponsor.locator("#deputies + p + table").inner_text()

    await owner.click('button:has-text("Submit the gate to Identified")')
    await owner.wait_for_load_state()
    assert "Open gate: to Identified" in await owner.content()
    assert "Thank you" in await _approve_from_email(chromium, smtp, "dana.deputy@", "Identified")
    assert await db_stage(sessions, measure_id) is Stage.IDENTIFIED

    await owner.reload()
    assert "Dana Deputy (sponsor, on behalf of Sam Sponsor) approved" in " ".join(
        (await owner.content()).split()
    )
    await owner.click('button:has-text("Submit the gate to Detailed")')
    await owner.wait_for_load_state()
    old = await email_to(smtp, "cleo.controller@", "Decision needed: gate to Detailed")

    await owner.click("#edit summary")
    await owner.select_option('#edit select[name="controller_id"]', label="Nina New")
    await owner.click('#edit button:has-text("Save")')
    await owner.wait_for_load_state()

    cleo = await (await chromium.new_context()).new_page()
    await cleo.goto(links_in(old)["Approve"])
    assert "another person now acts as controller" in await cleo.content()
    assert "Thank you" in await _approve_from_email(chromium, smtp, "nina.new@", "Detailed")
    assert await db_stage(sessions, measure_id) is Stage.DETAILED
    async with sessions() as session:
        decisions = (
            await session.exec(
                select(
                    GateDecisionRecord.role,
                    GateDecisionRecord.person_id,
                    GateDecisionRecord.on_behalf_of,
                ).order_by(col(GateDecisionRecord.id))
            )
        ).all()
        measure = await session.get(Measure, measure_id)
    assert [tuple(d) for d in decisions] == [
        (Role.SPONSOR, dana.id, org.sponsor_id),
        (Role.CONTROLLER, nina.id, None),
    ]
    assert measure is not None and measure.baseline_amount == Decimal("250000")


def _surname(first: str) -> str:
    return {"Olivia": "Owner", "Sam": "Sponsor", "Cleo": "Controller"}[first]
