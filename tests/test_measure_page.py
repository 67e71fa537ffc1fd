"""A measure's page: who is who, what the next gate lacks, the gates and history, and the
lifecycle actions the signed-in person may take, right there."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.audit import AuditEvent
from models.figures import ImpactLine, Milestone, MonthlyValue
from models.money import ImpactCategory, Scenario
from models.stages import Stage
from services import totals
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import make_org, measure_payload, with_passwords
from tests.lifecycle_helpers import Api, db_stage, start_measure
from tests.link_helpers import sign_in

pytestmark = pytest.mark.usefixtures("worker")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest_asyncio.fixture(loop_scope="session")
async def owner_on_page(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> tuple[Api, httpx.AsyncClient]:
    """A started measure, and its owner's browser signed in."""
    api, org = await start_measure(sessions, temporal_env, settings, client)
    await with_passwords(sessions, org, READER_PASSWORD)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)
    return api, browser


async def _act(
    http: httpx.AsyncClient, measure_id: int, action: str, **fields: str
) -> httpx.Response:
    page = await http.get(f"/measures/{measure_id}")
    found = _CSRF.search(page.text)
    assert found, page.text
    return await http.post(
        f"/measures/{measure_id}/lifecycle/{action}", data={"csrf": found.group(1), **fields}
    )


async def test_the_owner_submits_and_the_sponsor_decides_from_the_page(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    await with_passwords(sessions, org, READER_PASSWORD)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)
    await sign_in(second_browser, "sam.sponsor@acme.example", READER_PASSWORD)

    before = await browser.get(f"/measures/{api.measure_id}")
    assert "Every criterion is met" in before.text
    assert "Submit the gate to Identified" in before.text and "Approve" not in before.text
    assert "Olivia Owner" in before.text and "Cleo Controller" in before.text
    assert "in the Temporal UI" not in before.text  # for admins only

    submitted = await _act(browser, api.measure_id, "submit")
    assert submitted.status_code == 303
    waiting = await second_browser.get(f"/measures/{api.measure_id}")
    assert "Open gate: to Identified (round 1)" in waiting.text
    assert "waiting for sponsor" in waiting.text
    assert ">Approve</button>" in waiting.text

    no_comment = await _act(second_browser, api.measure_id, "reject", comment=" ")
    assert no_comment.status_code == 422
    assert "A rejection needs a comment" in no_comment.text
    approved = await _act(second_browser, api.measure_id, "approve", comment="go ahead")

    assert approved.status_code == 303
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED
    after = await browser.get(f"/measures/{api.measure_id}")
    assert "Sam Sponsor (sponsor) approved" in after.text and "“go ahead”" in after.text
    assert 'class="current">Identified</li>' in after.text
    assert "lifecycle.gate_decided" in after.text  # the history
    # The trail says the decision was made on the page, not through the REST API.
    assert await _channels(sessions, api.measure_id) == {
        "lifecycle.gate_submitted": {"page"},
        "lifecycle.gate_decided": {"page"},
        "lifecycle.stage_changed": {"page"},
    }


async def _channels(
    sessions: async_sessionmaker[AsyncSession], measure_id: int
) -> dict[str, set[str]]:
    """The channels the audit trail recorded for each lifecycle action a person took."""
    async with sessions() as session:
        events = (
            await session.exec(
                select(AuditEvent).where(
                    AuditEvent.entity_type == "measure",
                    AuditEvent.entity_id == str(measure_id),
                    col(AuditEvent.action).in_(
                        [
                            "lifecycle.gate_submitted",
                            "lifecycle.gate_decided",
                            "lifecycle.stage_changed",
                        ]
                    ),
                )
            )
        ).all()
    found: dict[str, set[str]] = {}
    for event in events:
        found.setdefault(event.action, set()).add(event.channel.value)
    return found


async def test_a_refusal_on_a_page_reads_as_a_sentence_next_to_the_form(
    owner_on_page: tuple[Api, httpx.AsyncClient],
) -> None:
    api, browser = owner_on_page
    no_reason = await _act(browser, api.measure_id, "hold", reason=" ", review_date="2099-01-31")
    bad_date = await _act(browser, api.measure_id, "hold", reason="budget", review_date="soon")

    assert no_reason.status_code == 422 and bad_date.status_code == 422
    assert "Reason: this is required." in no_reason.text
    assert "Review date: enter a date such as 2027-03-31." in bad_date.text
    assert "String should have" not in no_reason.text and "Input should be" not in bad_date.text
    assert (await api.view())["stage"] == "defined"  # nothing changed

    unconfirmed = await _act(browser, api.measure_id, "cancel", reason="not worth it")
    assert unconfirmed.status_code == 422
    assert "tick the box to confirm the cancellation" in unconfirmed.text
    confirmed = await _act(browser, api.measure_id, "cancel", reason="not worth it", confirm="yes")
    assert confirmed.status_code == 303
    assert (await api.view())["stage"] == "cancelled"


async def test_a_page_action_needs_the_session_csrf_value(
    owner_on_page: tuple[Api, httpx.AsyncClient],
) -> None:
    api, browser = owner_on_page
    forged = await browser.post(f"/measures/{api.measure_id}/lifecycle/submit", data={})

    assert forged.status_code == 403 and "CSRF" in forged.text
    assert (await api.view())["gate"] is None


async def test_the_page_lists_what_the_next_gate_still_lacks(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await make_org(sessions)
    created = (await client.post("/api/measures", json=measure_payload(org))).json()

    page = await reader.get(f"/measures/{created['id']}")

    assert "Next gate: Identified" in page.text
    assert "✗ add at least one impact line with an estimated annual potential" in page.text
    assert "What you can do" not in page.text  # the reader holds no role on it


async def test_my_work_shows_what_waits_for_each_person(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    await with_passwords(sessions, org, READER_PASSWORD)
    async with transaction(sessions) as session:
        session.add(
            Milestone(
                measure_id=api.measure_id,
                title="Contract notice given",
                owner_id=org.owner_id,
                planned_date=date.today() - timedelta(days=3),
            )
        )
        await session.flush()
        await totals.refresh_first_open(session, api.measure_id)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)
    await sign_in(second_browser, "sam.sponsor@acme.example", READER_PASSWORD)

    sponsor = await second_browser.get("/my-work")
    owner = await browser.get("/my-work")

    assert "Decisions waiting for you (1)" in sponsor.text
    assert f"M-{api.measure_id} Decommission the legacy SAN" in sponsor.text
    assert "to Identified (round 1)" in sponsor.text
    assert "Decisions waiting for you (0)" in owner.text
    assert "waiting for the gate&#39;s approvers" in owner.text
    assert "Contract notice given" in owner.text and "overdue milestones (1)" in owner.text

    assert (await api.decide(org.sponsor_id)).status_code == 200
    assert "Decisions waiting for you (0)" in (await second_browser.get("/my-work")).text
    assert "submit the gate to Detailed" in (await browser.get("/my-work")).text


async def test_the_controller_verifies_and_closes_on_the_page(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=Stage.IMPLEMENTED, implemented=True,
        submitted=True,
    )  # fmt: skip
    await with_passwords(sessions, org, READER_PASSWORD)
    await sign_in(browser, "cleo.controller@acme.example", READER_PASSWORD)
    page = await browser.get(f"/measures/{api.measure_id}")
    form = BeautifulSoup(page.text, "html.parser").select_one("form.verify")
    assert form is not None, "no verification form for the controller"
    fields = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}
    assert any(name.startswith("v-") and value for name, value in fields.items())  # actuals offered

    no_evidence = await browser.post(f"/measures/{api.measure_id}/closure", data=fields)
    assert no_evidence.status_code == 422
    assert "Give the evidence reference" in no_evidence.text
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED

    closed = await browser.post(
        f"/measures/{api.measure_id}/closure", data=fields | {"evidence_ref": "GL export"}
    )

    assert closed.status_code == 303, closed.text
    assert await db_stage(sessions, api.measure_id) is Stage.CLOSED
    channels = await _channels(sessions, api.measure_id)
    assert channels["lifecycle.stage_changed"] >= {"page"}


async def test_the_owner_edits_the_master_data_with_mistakes_shown_next_to_their_fields(
    owner_on_page: tuple[Api, httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    api, browser = owner_on_page
    page = await browser.get(f"/measures/{api.measure_id}")
    form = BeautifulSoup(page.text, "html.parser").select_one("details.edit form")
    assert form is not None, "no master data form for the owner"
    fields = {str(f["name"]): str(f.get("value", "")) for f in form.select("input")}
    assert "sponsor_id" not in {str(f["name"]) for f in form.select("select")}  # managers only

    wrong = await browser.post(
        f"/measures/{api.measure_id}/edit",
        data=fields | {"title": "ab", "horizon_months": "many", "baseline_amount": "1e20"},
    )
    saved = await browser.post(
        f"/measures/{api.measure_id}/edit",
        data=fields | {"title": "Retire the SAN, edited", "baseline_source": "FY26 ledger"},
    )

    assert wrong.status_code == 422
    marked = BeautifulSoup(wrong.text, "html.parser")
    said = {e["id"].removesuffix("-error"): e.get_text() for e in marked.select("span.error[id]")}
    assert said["title"] == "Needs at least 3 characters."
    assert said["horizon_months"] == "Enter a whole number."
    assert said["baseline_amount"].startswith("Must be less than")
    title = marked.select_one('input[name="title"]')
    assert title is not None and title["value"] == "ab"  # what was typed stays
    assert saved.status_code == 303
    after = await browser.get(f"/measures/{api.measure_id}")
    assert "<h1>Retire the SAN, edited</h1>" in after.text
    async with sessions() as session:
        events = await session.exec(
            select(AuditEvent).where(AuditEvent.action == "measure.updated")
        )
        [event] = events.all()
    assert event.channel.value == "page"
    assert event.after is not None and event.after["baseline_source"] == "FY26 ledger"


async def test_the_owner_adds_corrects_and_removes_impact_lines_on_the_page(
    owner_on_page: tuple[Api, httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    api, browser = owner_on_page
    page = await browser.get(f"/measures/{api.measure_id}")
    csrf = _CSRF.search(page.text)
    assert csrf is not None
    base = f"/measures/{api.measure_id}/lines"
    line = {"csrf": csrf.group(1), "category": "cost_reduction", "description": "Licences"}

    wrong = await browser.post(base, data=line | {"annual_potential": "10.123"})
    added = await browser.post(base, data=line | {"annual_potential": "48000"})

    assert wrong.status_code == 422
    assert "EUR amounts have at most 2 decimal places" in wrong.text
    assert added.status_code == 303
    async with sessions() as session:
        [new] = (
            await session.exec(
                select(ImpactLine).where(
                    ImpactLine.measure_id == api.measure_id, ImpactLine.description == "Licences"
                )
            )
        ).all()
    edit = f"{base}/{new.id}"
    corrected = await browser.post(
        f"{edit}/edit",
        data=line | {"description": "Licences, renegotiated", "annual_potential": ""},
    )
    unconfirmed = await browser.post(f"{edit}/remove", data={"csrf": csrf.group(1)})
    removed = await browser.post(f"{edit}/remove", data={"csrf": csrf.group(1), "confirm": "yes"})

    assert corrected.status_code == 303
    assert unconfirmed.status_code == 422 and "tick the box" in unconfirmed.text.lower()
    assert removed.status_code == 303
    async with sessions() as session:
        assert await session.get(ImpactLine, new.id) is None
        actions = (
            await session.exec(
                select(AuditEvent.action, AuditEvent.channel).where(
                    col(AuditEvent.action).startswith("impact_line.")
                )
            )
        ).all()
    assert [(a, c.value) for a, c in actions] == [
        ("impact_line.added", "page"),
        ("impact_line.changed", "page"),
        ("impact_line.removed", "page"),
    ]


async def test_the_page_says_which_rule_set_each_light_and_on_which_numbers(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await make_org(sessions)
    measure_id = (await client.post("/api/measures", json=measure_payload(org))).json()["id"]
    due = date.today() - timedelta(days=20)
    async with transaction(sessions) as session:
        line = ImpactLine(
            measure_id=measure_id, category=ImpactCategory.COST_REDUCTION, description="licences"
        )
        session.add(line)
        await session.flush()
        session.add_all(
            MonthlyValue(
                impact_line_id=line.id or 0, scenario=scenario, period=date(2027, 1, 1), amount=a
            )
            for scenario, a in ((Scenario.PLAN, Decimal(1000)), (Scenario.FORECAST, Decimal(840)))
        )
        session.add(Milestone(measure_id=measure_id, title="Cut-over", planned_date=due))
        await session.flush()
        await totals.refresh(session, [measure_id])

    page = BeautifulSoup((await reader.get(f"/measures/{measure_id}")).text, "html.parser")

    delivery, value = page.select_one("#delivery-why"), page.select_one("#value-why")
    assert delivery is not None and value is not None
    assert delivery.find_previous_sibling("span", class_="light-red") is not None
    assert delivery.get_text() == (
        f"a milestone due {due:%d %b %Y} is 20 days overdue, red beyond 14 days"
    )
    assert value.find_previous_sibling("span", class_="light-amber") is not None
    assert value.get_text() == (
        "84 % of plan achieved (actual where entered, else forecast), below 95 %, at least 80 %"
    )
