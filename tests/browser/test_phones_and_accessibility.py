"""The pages people open from an email, and the ones they work in, on a 390-px phone: nothing
wider than the screen, and axe-core (from the npm registry, injected into the page) finds no
serious or critical accessibility problem. On a wide screen the figure grid lays the months out
as columns with the year's total."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.people import Person
from models.stages import Stage
from services import accounts
from services.db import transaction
from tests.browser.conftest import AXE
from tests.conftest import READER_PASSWORD
from tests.factories import (
    as_person,
    complete_measure,
    make_org,
    start_lifecycle,
    with_passwords,
)
from tests.link_helpers import email_to, links_in
from tests.support import CapturingSmtp

pytestmark = [
    pytest.mark.usefixtures("worker"),
    pytest.mark.skipif(
        not AXE.exists(),
        reason="axe-core is not installed: npm ci --prefix tests/browser (the README's test "
        "command does it)",
    ),
]
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}


async def _signed_in(chromium: Any, server: str, email: str, viewport: dict[str, int]) -> Any:
    # axe is injected as a script: this context lets the test's own script past the page's CSP.
    context = await chromium.new_context(viewport=viewport, bypass_csp=True)
    page = await context.new_page()
    await page.goto(f"{server}/sign-in")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', READER_PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_load_state()
    return page


async def _problems(page: Any, url: str) -> list[str]:
    """What is wrong with the page at `url` on this screen: sideways scrolling, and axe-core's
    serious and critical violations."""
    await page.goto(url)
    found = []
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    if width > viewport:
        wide = await page.evaluate(
            "w => [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > w)"
            ".slice(0, 3).map(e => e.tagName + '.' + e.className)",
            viewport,
        )
        found.append(f"{url}: {width}px wide on a {viewport}px screen ({', '.join(wide)})")
    await page.add_script_tag(path=str(AXE))
    violations = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return found + [f"{url}: {v}" for v in violations]


async def test_the_main_pages_fit_a_phone_and_pass_axe(
    server: str,
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    smtp: CapturingSmtp,
    chromium: Any,
) -> None:
    org = await make_org(sessions)
    await with_passwords(sessions, org, READER_PASSWORD)
    async with transaction(sessions) as session:
        admin = Person(
            email="ada.admin@acme.example",
            name="Ada Admin",
            is_admin=True,
            password_hash=accounts.hash_password(READER_PASSWORD),
        )
        session.add(admin)
    deciding = await complete_measure(sessions, org, title="Retire the tape library")
    closing = await complete_measure(
        sessions, org, stage=Stage.IMPLEMENTED, implemented=True, title="Move backups to S3"
    )
    for measure_id in (deciding, closing):
        await start_lifecycle(
            sessions, temporal_env.client, measure_id, settings.temporal_task_queue
        )
        submitted = await client.post(
            f"/api/measures/{measure_id}/gates", headers=as_person(org.owner_id)
        )
        assert submitted.status_code == 201, submitted.text
    approve = links_in(await email_to(smtp, "sam.sponsor@", "Decision needed"))["Approve"]
    verify = links_in(await email_to(smtp, "cleo.controller@", "Verify"))["Verify figures"]

    anonymous = await (await chromium.new_context(viewport=PHONE, bypass_csp=True)).new_page()
    owner = await _signed_in(chromium, server, org.owner_email, PHONE)
    admin_page = await _signed_in(chromium, server, admin.email, PHONE)
    problems = [
        *await _problems(anonymous, f"{server}/sign-in"),
        *await _problems(anonymous, approve),
        *await _problems(anonymous, verify),
        *await _problems(owner, f"{server}/my-work"),
        *await _problems(owner, f"{server}/measures"),
        *await _problems(owner, f"{server}/measures/{deciding}"),
        *await _problems(owner, f"{server}/measures/{closing}"),
        *await _problems(owner, f"{server}/dashboard"),
        *await _problems(admin_page, f"{server}/admin"),
        *await _problems(admin_page, f"{server}/admin/portfolios/{org.portfolio_id}/policy"),
    ]

    assert not problems, "\n".join(problems)


async def test_on_a_wide_screen_the_grid_has_a_column_per_month_and_the_years_total(
    server: str,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    chromium: Any,
) -> None:
    org = await make_org(sessions)
    await with_passwords(sessions, org, READER_PASSWORD)
    measure_id = await complete_measure(sessions, org)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)

    wide = await _signed_in(chromium, server, org.owner_email, WIDE)
    await wide.goto(f"{server}/measures/{measure_id}")
    phone = await _signed_in(chromium, server, org.owner_email, PHONE)
    await phone.goto(f"{server}/measures/{measure_id}")

    grid = wide.locator("table.figures-year").first
    headers = await grid.locator("thead th").all_inner_texts()
    assert headers[1:4] == ["JAN", "FEB", "MAR"] and headers[-1] == "YEAR 2027"
    assert len(headers) == 14
    plan_total = grid.locator("tbody tr").first.locator("td.total")
    assert await plan_total.inner_text() == "€120,000.00"  # 12 months of €10,000 planned
    # On the phone the same grid stacks: no header row, each month labelled in its cell.
    assert not await phone.locator("table.figures-year thead").first.is_visible()
    january = phone.locator('input[aria-label="plan 2027-01"]')
    assert await january.is_visible()
    box = await january.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
