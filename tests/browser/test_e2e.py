"""End to end in a real headless Chromium: the owner signs in, edits a figure in the grid and
submits the gate; the sponsor approves through the link in the email they received.

(Chromium and the server: tests/browser/conftest.py.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.figures import ImpactLine, MonthlyValue
from models.money import Scenario
from models.stages import Stage
from tests.conftest import READER_PASSWORD
from tests.factories import complete_measure, make_org, start_lifecycle, with_passwords
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
