"""Milestones on a measure's page: the owner adds one, marks it done or waives it; the delivery
status follows; others cannot."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.figures import Milestone
from services import totals
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import complete_measure, make_org, with_passwords
from tests.link_helpers import sign_in


def _soup(page: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(page.text, "html.parser")


def _csrf(page: httpx.Response) -> str:
    field = _soup(page).select_one('input[name="csrf"]')
    assert field is not None
    return str(field["value"])


def _delivery(page: httpx.Response) -> str:
    found = _soup(page).select_one('.facts [title^="Delivery:"]')
    assert found is not None
    return found.get_text(strip=True)


async def test_the_owner_keeps_milestones_from_the_page(
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await make_org(sessions)
    await with_passwords(sessions, org, READER_PASSWORD)
    measure_id = await complete_measure(sessions, org)  # two milestones in 2027
    async with transaction(sessions) as session:
        session.add(
            Milestone(
                measure_id=measure_id,
                title="Kick-off",
                owner_id=org.owner_id,
                planned_date=date.today() - timedelta(days=30),
            )
        )
        await session.flush()
        await totals.refresh_first_open(session, measure_id)
    await sign_in(browser, org.owner_email, READER_PASSWORD)
    url = f"/measures/{measure_id}"
    page = await browser.get(url)
    assert _delivery(page) == "red"
    csrf = _csrf(page)

    empty = await browser.post(
        f"{url}/milestones", data={"csrf": csrf, "title": "", "planned_date": "2027-05-01"}
    )
    assert empty.status_code == 422 and "Nothing was saved" in empty.text
    soon = (date.today() + timedelta(days=30)).isoformat()
    added = await browser.post(
        f"{url}/milestones", data={"csrf": csrf, "title": "Contract ended", "planned_date": soon}
    )
    assert added.status_code == 303

    async with sessions() as session:
        rows = {
            m.title: m
            for m in (
                await session.exec(select(Milestone).where(Milestone.measure_id == measure_id))
            ).all()
        }
    assert rows["Contract ended"].planned_date.isoformat() == soon
    assert rows["Contract ended"].owner_id == org.owner_id

    done = await browser.post(f"{url}/milestones/{rows['Kick-off'].id}", data={"csrf": csrf})
    assert done.status_code == 303
    page = await browser.get(url)
    assert _delivery(page) == "green"  # nothing overdue any more
    row = _soup(page).select_one(f'tr[data-milestone="{rows["Kick-off"].id}"]')
    assert row is not None and f"done {date.today().isoformat()}" in row.get_text()

    waived = await browser.post(
        f"{url}/milestones/{rows['Contract ended'].id}",
        data={"csrf": csrf, "waived_reason": "Vendor took it over"},
    )
    assert waived.status_code == 303
    async with sessions() as session:
        again = await session.get(Milestone, rows["Contract ended"].id)
    assert again is not None and again.waived_reason == "Vendor took it over"

    # the sponsor sees the milestones but cannot change them
    await sign_in(second_browser, "sam.sponsor@acme.example", READER_PASSWORD)
    theirs = await second_browser.get(url)
    assert "Add milestone" not in theirs.text and "Mark done" not in theirs.text
    refused = await second_browser.post(
        f"{url}/milestones", data={"csrf": _csrf(theirs), "title": "Sneaky", "planned_date": soon}
    )
    assert refused.status_code == 403
    async with transaction(sessions) as session:
        titles = (
            await session.exec(select(Milestone.title).where(Milestone.measure_id == measure_id))
        ).all()
    assert "Sneaky" not in titles
