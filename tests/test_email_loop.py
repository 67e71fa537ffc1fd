"""The whole loop as people live it: the owner submits, approvers decide from their emails, the
controller verifies the figures on the page the closure email links to, and the measure closes."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.audit import AuditEvent
from models.links import SignedLink
from models.stages import Stage
from services import audit
from tests.factories import MONTHLY_PLAN, complete_measure, make_org, months, start_lifecycle
from tests.lifecycle_helpers import Api, db_stage, line_id, start_measure
from tests.link_helpers import confirm, email_to, links_in, open_link, text_of
from tests.support import CapturingSmtp

pytestmark = pytest.mark.usefixtures("worker")

PEOPLE = {"sponsor": "sam.sponsor@", "controller": "cleo.controller@"}
GATES = [
    (Stage.IDENTIFIED, ["sponsor"]),
    (Stage.DETAILED, ["controller"]),
    (Stage.DECIDED, ["sponsor", "controller"]),
    (Stage.IMPLEMENTED, ["sponsor"]),
]


async def test_from_defined_to_closed_through_emails_and_links(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, implemented=True)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    api = Api(client, measure_id)
    welcome = await email_to(smtp, "olivia.owner@", f"You own measure M-{measure_id}")
    assert "the next gate is Identified" in text_of(welcome)

    for target, approvers in GATES:
        assert (await api.submit(org.owner_id)).status_code == 201
        for who in approvers:
            request = await email_to(smtp, PEOPLE[who], f"Decision needed: gate to {target.label}")
            url = links_in(request)["Approve"]
            _, csrf = await open_link(browser, url)
            done = await confirm(browser, url, csrf, comment=f"fine by the {who}")
            assert done.status_code == 200, done.text
            if who != approvers[-1]:
                assert f"the gate still waits for the {approvers[-1]}" in done.text
        assert await db_stage(sessions, measure_id) is target

    assert (await api.submit(org.owner_id)).status_code == 201
    closure = await email_to(smtp, PEOPLE["controller"], f"Verify figures to close M-{measure_id}")
    url = links_in(closure)["Verify figures"]
    page, csrf = await open_link(browser, url)
    assert page.status_code == 200 and "Verify the achieved figures" in page.text
    line = await line_id(sessions, measure_id)
    entered = {f"v-{line}-{m:%Y-%m}": str(MONTHLY_PLAN) for m in months(2)}
    closed = await confirm(
        browser, url, csrf, evidence_ref="GL export 2027-03", comment="as planned", **entered
    )

    assert closed.status_code == 200, closed.text
    assert "The measure is in stage Closed." in closed.text
    assert await db_stage(sessions, measure_id) is Stage.CLOSED
    await email_to(smtp, "olivia.owner@", f"Closed: M-{measure_id}")
    async with sessions() as session:
        events = (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all()
        assert await audit.verify_chain(session) == []
    by_link = [e.action for e in events if e.channel == "email_link"]
    assert by_link.count("link.used") == 6  # five approvals and the verification
    assert by_link.count("lifecycle.gate_decided") == 6
    assert by_link.count("lifecycle.closure_confirmed") == 1
    stages = [e.after["to_stage"] for e in events if e.action == "lifecycle.stage_changed"]
    assert stages == ["identified", "detailed", "decided", "implemented", "closed"]
    # welcome, 5 approval requests, 4 outcomes, the closure request, 2 closure confirmations
    mails = await smtp.wait_for(13)
    assert len({m["Message-ID"] for m in mails}) == len(mails) == 13


async def test_the_verification_page_keeps_what_was_entered_and_says_what_is_wrong(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(
        sessions,
        temporal_env,
        settings,
        client,
        Stage.IMPLEMENTED,
        implemented=True,
        submitted=True,
    )
    closure = await email_to(smtp, PEOPLE["controller"], "Verify figures")
    url = links_in(closure)["Verify figures"]
    page, csrf = await open_link(browser, url)
    line = await line_id(sessions, api.measure_id)
    first, second = (f"v-{line}-{m:%Y-%m}" for m in months(2))
    # The page shows plan, forecast and actual per month, the actuals offered as verified.
    assert "€10,000.00" in page.text and f'name="{first}"' in page.text
    assert 'value="10000.0000"' in page.text or 'value="10000.00"' in page.text

    typo = await confirm(browser, url, csrf, evidence_ref="GL", **{first: "12,5x", second: "9"})
    assert typo.status_code == 422
    assert "Enter an amount such as 12500.00" in typo.text
    assert 'value="12,5x"' in typo.text and 'value="GL"' in typo.text

    _, csrf = await open_link(browser, url)
    short = await confirm(browser, url, csrf, evidence_ref="GL", **{first: "100", second: "100"})
    assert short.status_code == 422
    assert "short of plan" in short.text and "explain the shortfall" in short.text
    assert 'value="100"' in short.text
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED
    async with sessions() as session:  # the link was not spent on figures that were refused
        link = (await session.exec(select(SignedLink).where(SignedLink.action == "verify"))).one()
    assert link.used_at is None

    _, csrf = await open_link(browser, url)
    closed = await confirm(
        browser,
        url,
        csrf,
        evidence_ref="GL",
        comment="the SAN stayed on for a month",
        **{first: "100", second: "100"},
    )
    assert closed.status_code == 200, closed.text
    assert await db_stage(sessions, api.measure_id) is Stage.CLOSED


async def test_the_controller_can_reject_closure_from_the_email(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(
        sessions,
        temporal_env,
        settings,
        client,
        Stage.IMPLEMENTED,
        implemented=True,
        submitted=True,
    )
    closure = await email_to(smtp, PEOPLE["controller"], "Verify figures")
    url = links_in(closure)["Reject"]
    _, csrf = await open_link(browser, url)

    rejected = await confirm(browser, url, csrf, comment="actuals for March are missing")

    assert rejected.status_code == 200, rejected.text
    assert (await api.view())["gate"] is None
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED
    outcome = await email_to(smtp, "olivia.owner@", "Gate to Closed rejected")
    assert "actuals for March are missing" in text_of(outcome)


async def test_owner_and_sponsor_hear_of_a_hold_a_resume_and_a_cancellation(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)

    assert (await api.hold(org.sponsor_id, reason="budget freeze")).status_code == 200
    held = [await email_to(smtp, who, "On hold:") for who in ("olivia.owner@", "sam.sponsor@")]
    assert (await api.resume(org.owner_id)).status_code == 200
    for who in ("olivia.owner@", "sam.sponsor@"):
        await email_to(smtp, who, "Resumed:")
    assert (await api.cancel(org.owner_id, reason="no longer worth it")).status_code == 200
    cancelled = [
        await email_to(smtp, who, "Cancelled:") for who in ("olivia.owner@", "sam.sponsor@")
    ]

    assert all("Reason: budget freeze" in text_of(m) for m in held)
    assert all("Reason: no longer worth it" in text_of(m) for m in cancelled)
