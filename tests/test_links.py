"""Signed links in emails: safe to fetch, acting once, for one person and one action only."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from api.access_log import RedactLinkTokens
from config.settings import Settings
from models.audit import AuditEvent
from models.columns import utcnow
from models.gates import GateDecisionRecord
from models.links import SignedLink
from models.measure import Measure
from models.outbox import OutboxEmail
from models.stages import Stage
from notifications.links import token_hash
from services.db import transaction
from tests.factories import as_person, complete_measure, make_org, start_lifecycle
from tests.lifecycle_helpers import count, db_stage, start_measure
from tests.link_helpers import PUBLIC, confirm, email_to, html_of, links_in, open_link, text_of
from tests.support import CapturingSmtp

pytestmark = pytest.mark.usefixtures("worker")

SCANNERS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 HeadlessChrome/120.0",
    "curl/8.5.0",
]


async def _sponsor_links(smtp: CapturingSmtp) -> dict[str, str]:
    request = await email_to(smtp, "sam.sponsor@", "Decision needed")
    return links_in(request)


async def _used(sessions: async_sessionmaker[AsyncSession]) -> list[SignedLink]:
    async with sessions() as session:
        return list(
            await session.exec(select(SignedLink).where(col(SignedLink.used_at).isnot(None)))
        )


async def _audit_actions(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """The audit trail's actions, without the emails (which are sent in the background)."""
    async with sessions() as session:
        actions = (await session.exec(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    return [action for action in actions if action != "email.sent"]


async def test_the_approval_request_shows_the_figures_and_carries_links_only_it_knows(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    request = await email_to(smtp, "sam.sponsor@", "Decision needed: gate to Identified")
    text, html = text_of(request), html_of(request)
    found = links_in(request)

    assert set(found) == {"Approve", "Reject"}
    assert all(url.startswith(f"{PUBLIC}/links/") for url in found.values())
    assert found["Approve"] != found["Reject"]
    assert "Planned annual EBITDA effect: €120,000.00" in text
    assert "[x] Owner, sponsor and controller set, three different people" in text
    assert f'href="{found["Approve"]}"' in html and "<script" not in html
    # The tokens exist in the email alone: the database keeps hashes, the outbox placeholders.
    tokens = [url.rpartition("/")[2] for url in found.values()]
    assert all(len(token) >= 43 for token in tokens)  # 256 bits, URL-safe base64
    async with sessions() as session:
        stored = (await session.exec(select(SignedLink.token_hash))).all()
        bodies = [
            row.text_body + row.html_body for row in (await session.exec(select(OutboxEmail)))
        ]
        trail = " ".join(str(e.after) for e in (await session.exec(select(AuditEvent))).all())
    assert sorted(stored) == sorted(token_hash(t) for t in tokens)
    assert not any(token in body or token in trail for token in tokens for body in bodies)
    history = (
        await temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}").fetch_history()
    ).to_json()
    assert not any(token in history for token in tokens)


async def test_fetching_a_link_changes_nothing_whoever_fetches_it(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    found = await _sponsor_links(smtp)
    audit_before = await _audit_actions(sessions)

    for agent in SCANNERS:
        for url in found.values():
            page, _ = await open_link(browser, url, **{"User-Agent": agent})
            assert page.status_code == 200
            head = await browser.head(url.removeprefix(PUBLIC), headers={"User-Agent": agent})
            assert head.status_code in (200, 405)

    assert (await api.view())["gate"]["pending"] == ["sponsor"]
    assert await _used(sessions) == []
    assert await _audit_actions(sessions) == audit_before
    assert await count(sessions, GateDecisionRecord) == 0
    # ... and the person can still use the link afterwards.
    page, csrf = await open_link(browser, found["Approve"])
    assert "Sam Sponsor" in page.text and "Approve the gate to Identified?" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "http://" not in page.text.replace(PUBLIC, "") and "https://" not in page.text.replace(
        PUBLIC, ""
    )  # no third-party resources on the page
    done = await confirm(browser, found["Approve"], csrf)
    assert done.status_code == 200, done.text
    assert "you approved the gate to Identified" in done.text
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED


async def test_a_link_acts_once_even_posted_twenty_times_at_once(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Approve"]
    _, csrf = await open_link(browser, url)

    answers = await asyncio.gather(*(confirm(browser, url, csrf) for _ in range(20)))
    again = await confirm(browser, url, csrf)

    assert sorted(a.status_code for a in answers) == [200] + [409] * 19
    assert again.status_code == 409 and "already been used" in again.text
    assert await count(sessions, GateDecisionRecord) == 1
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED
    actions = await _audit_actions(sessions)
    assert actions.count("link.used") == 1
    assert actions.count("lifecycle.gate_decided") == 1
    async with sessions() as session:
        decided = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "lifecycle.gate_decided")
            )
        ).one()
    assert decided.channel == "email_link"


async def test_a_rejection_needs_a_comment_and_reaches_the_owner(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Reject"]
    _, csrf = await open_link(browser, url)

    empty = await confirm(browser, url, csrf, comment="  ")
    assert empty.status_code == 422
    assert "A rejection needs a comment for the owner." in empty.text
    assert await _used(sessions) == []

    hostile = "<script>alert('x')</script> business case is thin"
    _, csrf = await open_link(browser, url)
    rejected = await confirm(browser, url, csrf, comment=hostile)
    assert rejected.status_code == 200, rejected.text
    assert (await api.view())["gate"] is None
    assert await db_stage(sessions, api.measure_id) is Stage.DEFINED
    outcome = await email_to(smtp, "olivia.owner@", "Gate to Identified rejected")
    assert hostile in text_of(outcome)
    assert "<script>" not in html_of(outcome)
    assert "&lt;script&gt;" in html_of(outcome)


async def test_the_other_links_of_a_decided_gate_stop_working(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    found = await _sponsor_links(smtp)
    assert (await api.decide(org.sponsor_id)).status_code == 200  # decided in the app instead

    for url in found.values():
        page, csrf = await open_link(browser, url)
        assert page.status_code == 410
        assert "no longer works" in page.text and "the gate was approved" in page.text
        assert csrf == ""
        posted = await confirm(browser, url, "forged")
        assert posted.status_code == 410
    assert await count(sessions, GateDecisionRecord) == 1


async def test_hold_and_cancel_revoke_open_links(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Approve"]

    assert (await api.hold(org.owner_id)).status_code == 200
    page, _ = await open_link(browser, url)
    assert page.status_code == 410 and "measure put on hold" in page.text

    assert (await api.resume(org.owner_id)).status_code == 200
    assert (await api.submit(org.owner_id)).status_code == 201
    second = links_in(await email_to(smtp, "sam.sponsor@", "Decision needed", count=2))
    assert second["Approve"] != url
    assert (await api.cancel(org.owner_id)).status_code == 200
    page, _ = await open_link(browser, second["Approve"])
    assert page.status_code == 410 and "measure cancelled" in page.text


async def test_an_expired_link_is_refused_and_says_so(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Approve"]
    _, csrf = await open_link(browser, url)
    async with transaction(sessions) as session:
        await session.exec(
            update(SignedLink).values(expires_at=utcnow() - timedelta(seconds=1))  # type: ignore[call-overload]
        )

    posted = await confirm(browser, url, csrf)

    assert posted.status_code == 410 and "expired" in posted.text
    assert (await api.view())["gate"]["pending"] == ["sponsor"]
    assert "link.refused" in await _audit_actions(sessions)


async def test_a_link_follows_segregation_of_duties_as_it_stands_when_used(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Approve"]
    _, csrf = await open_link(browser, url)
    async with transaction(sessions) as session:  # the sponsor has since become the owner
        measure = await session.get(Measure, api.measure_id)
        assert measure is not None
        measure.owner_id = org.sponsor_id
        session.add(measure)

    posted = await confirm(browser, url, csrf)

    assert posted.status_code == 403 and "never approves their own measure" in posted.text
    assert (await api.view())["gate"]["pending"] == ["sponsor"]
    page, _ = await open_link(browser, url)
    assert page.status_code == 410  # and it stays dead


async def test_a_post_from_another_site_or_without_the_form_is_refused(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Approve"]
    _, csrf = await open_link(browser, url)

    foreign = await confirm(browser, url, csrf, origin="https://evil.example")
    no_form = await confirm(browser, url, "")
    browser.cookies.clear()
    no_cookie = await confirm(browser, url, csrf)

    assert [foreign.status_code, no_form.status_code, no_cookie.status_code] == [403, 403, 403]
    assert "another site" in foreign.text
    assert (await api.view())["gate"]["pending"] == ["sponsor"]
    assert await _used(sessions) == []


async def test_a_null_origin_counts_only_with_fetch_metadata_saying_same_origin(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    """The link pages send no referrer, so browsers post their forms with "Origin: null"."""
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Approve"]
    _, csrf = await open_link(browser, url)
    path = url.removeprefix(PUBLIC)
    for site in (None, "cross-site", "same-site"):
        headers = {"Origin": "null"} | ({"Sec-Fetch-Site": site} if site else {})
        refused = await browser.post(path, data={"csrf": csrf}, headers=headers)
        assert refused.status_code == 403, site
    assert (await api.view())["gate"]["pending"] == ["sponsor"]

    same = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    approved = await browser.post(path, data={"csrf": csrf}, headers=same)
    assert approved.status_code == 200, approved.text
    assert (await api.view())["stage"] == "identified"


async def test_links_are_built_from_the_configured_address_not_the_request(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    submitted = await client.post(
        f"/api/measures/{measure_id}/gates",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        | as_person(org.owner_id),
    )
    assert submitted.status_code == 201

    request = await email_to(smtp, "sam.sponsor@", "Decision needed")

    assert "evil.example" not in text_of(request) + html_of(request)
    assert all(url.startswith(f"{PUBLIC}/links/") for url in links_in(request).values())


async def test_guessing_tokens_gets_a_client_turned_away(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    for i in range(settings.link_failures_per_minute):
        wrong = await browser.get(f"/links/not-a-token-{i}")
        assert wrong.status_code == 404 and "not valid" in wrong.text
        assert wrong.headers["referrer-policy"] == "no-referrer"

    turned_away = await browser.get("/links/yet-another-guess")

    assert turned_away.status_code == 429 and "Too many invalid links" in turned_away.text


def test_the_access_log_never_shows_a_token(client: httpx.AsyncClient) -> None:
    token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2Fs"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.7:50312", "GET", f"/links/{token}", "1.1", 200),
        None,
    )
    [installed] = [
        f for f in logging.getLogger("uvicorn.access").filters if isinstance(f, RedactLinkTokens)
    ]

    assert installed.filter(record)
    assert token not in record.getMessage()
    assert '"GET /links/[token] HTTP/1.1" 200' in record.getMessage()


async def test_an_smtp_outage_delays_the_emails_never_the_lifecycle(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    smtp.refuse = True
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    decided = await api.decide(org.sponsor_id)

    assert decided.status_code == 200 and decided.json()["stage"] == "identified"
    await smtp.wait_for_refusals(3)
    assert smtp.messages == []
    smtp.refuse = False
    # welcome, approval request, outcome: each once, after the retries' backoff
    mails = await smtp.wait_for(3)
    assert sorted(str(m["Subject"]).split(":")[0] for m in mails) == [
        "[ValueGate] Decision needed",
        "[ValueGate] Gate to Identified approved",
        "[ValueGate] You own measure M-" + str(api.measure_id),
    ]
    assert len({m["Message-ID"] for m in mails}) == 3


async def test_a_link_does_its_own_action_and_nothing_else(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    url = (await _sponsor_links(smtp))["Reject"]
    _, csrf = await open_link(browser, url)

    posted = await confirm(
        browser, url, csrf, approve="true", action="approve", comment="not with these numbers"
    )

    assert posted.status_code == 200 and "you rejected the gate" in posted.text
    async with sessions() as session:
        [decision] = (await session.exec(select(GateDecisionRecord))).all()
    assert decision.approve is False
    assert await db_stage(sessions, api.measure_id) is Stage.DEFINED
