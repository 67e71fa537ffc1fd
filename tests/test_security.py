"""Attacks from outside and careless use: each test holds one defect that was found so."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Settings
from models.audit import AuditEvent, AuditHead
from models.gates import GateDecisionRecord
from models.measure import Measure
from models.stages import Stage
from services import accounts, audit
from services.db import transaction
from tests.factories import (
    add_person,
    as_person,
    give_api_token,
    make_org,
    measure_payload,
    with_passwords,
)
from tests.lifecycle_helpers import db_stage, start_measure
from tests.link_helpers import confirm, email_to, links_in, open_link, sign_in
from tests.support import CapturingSmtp, free_port, served
from valuegate import audit_anchors
from valuegate.cli import uvicorn_options
from workflows.contracts import Decide

PASSWORD = "a long enough password"


async def _manager_of(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], portfolio_id: int
) -> int:
    person = await add_person(
        sessions, email="mona.manager@acme.example", name="Mona Manager", password=PASSWORD
    )
    await give_api_token(sessions, person)
    answer = await client.put(f"/api/portfolios/{portfolio_id}/managers/{person.id}")
    assert answer.status_code == 204, answer.text
    return person.id or 0


async def _measures(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(Measure))).one()


# --- idempotency keys belong to a person and a request --------------------------------------


async def test_another_persons_idempotency_key_returns_nothing_of_theirs(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admins, mine = await make_org(sessions), await make_org(sessions, tag=".b")
    manager = await _manager_of(client, sessions, mine.portfolio_id)
    key = {"Idempotency-Key": "create-1"}
    secret = await client.post(
        "/api/measures", json=measure_payload(admins, title="Secret merger"), headers=key
    )

    theirs = await client.post(
        "/api/measures",
        json=measure_payload(mine, title="My own"),
        headers=key | as_person(manager),
    )

    assert (secret.status_code, theirs.status_code) == (201, 201)
    assert theirs.json()["id"] != secret.json()["id"]
    assert theirs.json()["title"] == "My own" and "Secret" not in theirs.text


async def test_a_key_reused_for_another_request_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    key = {"Idempotency-Key": "create-2"}
    first = await client.post("/api/measures", json=measure_payload(org), headers=key)

    other = await client.post(
        "/api/measures", json=measure_payload(org, title="Something else"), headers=key
    )

    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert "already used for a different request" in other.json()["detail"][0]["msg"]
    assert await _measures(sessions) == 1


async def test_decisions_with_one_key_by_two_people_are_each_their_own(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    # The Decided gate waits for the sponsor and the controller.
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=Stage.DETAILED, submitted=True
    )
    approved = await api.decide(org.sponsor_id, key="k")
    rejected = await api.decide(org.controller_id, approve=False, comment="baseline", key="k")

    assert (approved.status_code, rejected.status_code) == (200, 200), rejected.text
    assert rejected.json()["gate"] is None  # the rejection acted: the gate is closed
    async with sessions() as session:
        decided = (await session.exec(select(GateDecisionRecord))).all()
    assert sorted((d.person_id, d.approve) for d in decided) == sorted(
        [(org.sponsor_id, True), (org.controller_id, False)]
    )
    assert await db_stage(sessions, api.measure_id) is Stage.DETAILED


async def test_a_key_used_for_an_approval_is_no_500_on_a_submission(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    assert (await api.decide(org.sponsor_id, key="same")).status_code == 200

    submitted = await api.submit(org.owner_id, key="same")  # someone else's key: her own
    resubmitted = await api.submit(org.owner_id, key="same")  # the same request: once
    reused = await api.decide(org.owner_id, key="same")  # her key, another request

    assert (submitted.status_code, resubmitted.status_code) == (201, 201), submitted.text
    assert resubmitted.json() == submitted.json()
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["type"] == "idempotency_key_reused"


async def test_concurrent_creates_with_one_key_make_one_measure(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    key = {"Idempotency-Key": "burst"}
    answers = await asyncio.gather(
        *(client.post("/api/measures", json=measure_payload(org), headers=key) for _ in range(20))
    )

    assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _measures(sessions) == 1


# --- a signed link acts for its own person only -------------------------------------------


async def test_a_link_in_another_persons_signed_in_browser_is_refused_and_audited(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    approve = links_in(await email_to(smtp, "sam.sponsor@", "Decision needed"))["Approve"]
    await with_passwords(sessions, org, PASSWORD)
    await sign_in(browser, org.owner_email, PASSWORD)  # the owner holds the sponsor's link

    shown, csrf = await open_link(browser, approve)
    posted = await confirm(browser, approve, csrf or "any")

    for answer in (shown, posted):
        assert answer.status_code == 403
        assert "This link is for Sam Sponsor" in answer.text
        assert "You are signed in as Olivia Owner" in answer.text
    assert (await api.view())["gate"]["pending"] == ["sponsor"]  # nothing decided
    assert await _refusals(sessions) == ["posted from a browser signed in as person:"
                                          f"{org.owner_id}"]  # fmt: skip
    # The sponsor's own browser still can: the link was not spent.
    shown, csrf = await open_link(second_browser, approve)
    assert (await confirm(second_browser, approve, csrf)).status_code == 200
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED


async def test_the_controllers_verify_link_does_not_close_for_a_signed_in_owner(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=Stage.IMPLEMENTED, implemented=True,
        submitted=True,
    )  # fmt: skip
    verify = links_in(await email_to(smtp, "cleo.controller@", "Verify"))["Verify figures"]
    await with_passwords(sessions, org, PASSWORD)
    await sign_in(browser, org.owner_email, PASSWORD)

    _, csrf = await open_link(browser, verify)
    posted = await confirm(browser, verify, csrf or "any", evidence_ref="GL")

    assert posted.status_code == 403 and "This link is for Cleo Controller" in posted.text
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED


async def test_deactivating_a_person_revokes_their_links_at_once(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    approve = links_in(await email_to(smtp, "sam.sponsor@", "Decision needed"))["Approve"]
    shown, csrf = await open_link(browser, approve)
    assert shown.status_code == 200

    assert (
        await client.patch(f"/api/people/{org.sponsor_id}", json={"active": False})
    ).status_code == 200
    posted = await confirm(browser, approve, csrf)

    assert posted.status_code == 410
    assert "Sam Sponsor was deactivated" in posted.text
    assert (await api.view())["gate"]["pending"] == ["sponsor"]
    async with sessions() as session:
        decided = (await session.exec(select(func.count()).select_from(GateDecisionRecord))).one()
    assert decided == 0


async def _refusals(sessions: async_sessionmaker[AsyncSession]) -> list[str | None]:
    async with sessions() as session:
        events = await session.exec(
            select(AuditEvent).where(AuditEvent.action == "link.refused").order_by(AuditEvent.id)
        )
        return [event.reason for event in events]


async def test_a_burst_of_posts_of_one_link_decides_once_and_audits_every_refusal(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    approve = links_in(await email_to(smtp, "sam.sponsor@", "Decision needed"))["Approve"]
    _, csrf = await open_link(browser, approve)

    answers = await asyncio.gather(*(confirm(browser, approve, csrf) for _ in range(20)))

    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19, codes
    assert len(await _refusals(sessions)) == 19
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED


# --- bad numbers and bad text get a clear 422, never a 500 --------------------------------


def _with_raw_baseline(payload: dict[str, object], raw: str) -> str:
    """The payload as JSON text with `raw` written as the baseline amount, as typed."""
    return json.dumps(payload | {"baseline_amount": "RAW"}).replace('"RAW"', raw)


@pytest.mark.parametrize("amount", ["1e20", "1e+308", "100000000000000", "0.00001", "-1e15"])
async def test_an_amount_that_cannot_be_stored_is_a_422_naming_it(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], amount: str
) -> None:
    org = await make_org(sessions)
    body = json.dumps(measure_payload(org)).replace(
        '"title"', f'"baseline_amount": {amount}, "title"'
    )

    answer = await client.post(
        "/api/measures", content=body, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "baseline_amount"]
    assert await _measures(sessions) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_amounts(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], literal: str
) -> None:
    org = await make_org(sessions)
    body = json.dumps(measure_payload(org)).replace(
        '"title"', f'"baseline_amount": {literal}, "title"'
    )

    answer = await client.post(
        "/api/measures", content=body, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 422
    assert f"{literal} is not a number JSON allows" in answer.json()["detail"][0]["msg"]


async def test_a_nul_character_in_text_is_refused_at_every_door(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await make_org(sessions)

    api = await client.post("/api/measures", json=measure_payload(org, title="bad \u0000 title"))
    page = await reader.post("/measures/1/lifecycle/cancel", data={"reason": "bad \x00 reason"})

    assert api.status_code == 422
    assert "NUL character" in api.json()["detail"][0]["msg"]
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "NUL character" in page.text
    assert await _measures(sessions) == 0


async def test_a_body_over_the_limit_is_a_413(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    huge = measure_payload(org, description="x" * 2_000_000)

    answer = await client.post("/api/measures", json=huge)

    assert answer.status_code == 413
    assert "larger than 1,048,576 bytes" in answer.json()["detail"][0]["msg"]
    assert await _measures(sessions) == 0


# --- a measure is never wedged by its input -----------------------------------------------


async def test_text_the_database_cannot_hold_ends_that_action_and_not_the_measure(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    handle = temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}")
    # Past every door's check, straight to the workflow, as a script with Temporal access could.
    bad = Decide(by=org.sponsor_id, approve=False, comment="bad \x00 comment")

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await asyncio.wait_for(handle.execute_update("decide_gate", bad), timeout=30)

    assert isinstance(refused.value.cause, ApplicationError)
    assert "NUL character" in refused.value.cause.message
    assert (await api.view())["gate"]["pending"] == ["sponsor"]  # nothing changed
    assert (await api.decide(org.sponsor_id)).status_code == 200  # and the measure goes on
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED


async def test_a_lost_worker_costs_seconds_not_half_a_minute(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    handle = temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}")

    timeouts = {
        event.activity_task_scheduled_event_attributes.activity_type.name: (
            event.activity_task_scheduled_event_attributes.start_to_close_timeout.ToSeconds()
        )
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }

    # A database activity that a killed worker held is retried elsewhere after this long.
    for name in ("load_measure_snapshot", "load_gate_policy", "record_lifecycle_facts"):
        assert timeouts[name] <= 10, (name, timeouts[name])


# --- the web layer -------------------------------------------------------------------------


async def test_pages_take_nothing_from_the_host_header(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/sign-in", headers={"Host": "evil.example"})

    assert page.status_code == 200
    assert "evil.example" not in page.text
    assert 'href="/static/app.css"' in page.text


async def test_every_answer_forbids_framing_and_foreign_content(
    reader: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for answer in (
        await reader.get("/measures"),
        await reader.get("/sign-in"),
        await reader.get("/nowhere"),
        await client.get("/api/measures"),
    ):
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
        assert "script-src" not in policy  # pages run no script at all
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
    docs = await reader.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


async def test_concurrent_wrong_passwords_are_limited_like_consecutive_ones(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await add_person(sessions, email="wendy.wrong@acme.example", name="Wendy", password=PASSWORD)
    page = await browser.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "email": "wendy.wrong@acme.example", "password": "wrong"}

    answers = await asyncio.gather(*(browser.post("/sign-in", data=form) for _ in range(30)))

    codes = sorted(a.status_code for a in answers)
    allowed = settings.link_failures_per_minute
    assert codes == [401] * allowed + [429] * (30 - allowed), codes


async def test_password_hashing_leaves_the_event_loop_free(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add_person(sessions, email="hugo.hash@acme.example", name="Hugo", password=PASSWORD)
    turns = 0
    checking = True

    async def count_turns() -> None:
        nonlocal turns
        while checking:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    async with sessions() as session:
        person = await accounts.check_password(
            session, email="hugo.hash@acme.example", password=PASSWORD
        )
    checking = False
    await counter

    assert person is not None
    # Argon2 on the loop would have held it for the whole check: the counter would not turn.
    assert turns > 10


async def test_forwarded_addresses_count_only_from_trusted_proxies(
    settings: Settings, engine: object, temporal_env: WorkflowEnvironment
) -> None:
    assert uvicorn_options(settings) == {"proxy_headers": False}
    trusting = settings.model_copy(update={"trusted_proxies": "10.0.0.5"})
    assert uvicorn_options(trusting) == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.5"}

    port = free_port()
    local = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    app = create_app(local, engine=engine, temporal=temporal_env.client)  # type: ignore[arg-type]
    async with (
        served(app, port, **uvicorn_options(settings)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        page = (await http.get("/sign-in")).text
        codes = []
        for n in range(settings.link_failures_per_minute + 1):
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            form = {"csrf": csrf.group(1), "email": "nobody@acme.example", "password": "x"}
            answer = await http.post(
                "/sign-in", data=form, headers={"X-Forwarded-For": f"203.0.113.{n}"}
            )
            codes.append(answer.status_code)
            page = answer.text  # the form again, with a fresh CSRF value
    # A client on this machine cannot pose as many addresses to dodge the limit.
    assert codes[-1] == 429, codes


async def test_a_portfolios_gate_policy_is_for_those_who_see_the_portfolio(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine, other = await make_org(sessions), await make_org(sessions, tag=".b")
    assert (await client.post("/api/measures", json=measure_payload(mine))).status_code == 201
    owner = as_person(mine.owner_id)

    own = await client.get(f"/api/portfolios/{mine.portfolio_id}/gate-policy", headers=owner)
    foreign = await client.get(f"/api/portfolios/{other.portfolio_id}/gate-policy", headers=owner)

    assert own.status_code == 200
    assert foreign.status_code == 404


# --- the trail cannot be cut short without trace ------------------------------------------


async def _every_activity_done(handle: Any) -> None:
    """Return once every activity the workflow scheduled so far has completed (long-polls the
    history; no sleeping)."""
    known = len((await handle.fetch_history()).events)
    scheduled: set[int] = set()
    done: set[int] = set()
    async for event in handle.fetch_history_events(wait_new_event=True):
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done.add(event.activity_task_completed_event_attributes.scheduled_event_id)
        if event.event_id >= known and scheduled <= done:  # judged on the whole history only
            return


async def test_a_trail_cut_short_and_resealed_is_caught_by_the_anchors_in_temporal(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    assert (await api.decide(org.sponsor_id)).status_code == 200
    handle = temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}")

    async def check() -> tuple[int, list[tuple[int, str]]]:
        async def this_measure() -> AsyncIterator[Any]:
            yield handle

        async with sessions() as session:
            checked, problems = await audit_anchors.check(
                session, temporal_env.client, this_measure()
            )
        return checked, [(p.event_id, p.problem) for p in problems]

    checked, problems = await check()
    assert checked >= 2 and problems == []  # submission and decision, each anchored
    await asyncio.wait_for(_every_activity_done(handle), timeout=30)  # emails too: no writer left

    # An attacker with database access drops the events from the decision on and moves the
    # head back to the one before.
    decision = [anchor async for anchor in audit_anchors.anchors_in(temporal_env.client, handle)][
        -1
    ]
    async with transaction(sessions) as session:
        keep = decision.event_id - 1
        kept = (await session.exec(select(AuditEvent).where(AuditEvent.id == keep))).one()
        await session.exec(delete(AuditEvent).where(col(AuditEvent.id) > keep))
        await session.exec(update(AuditHead).values(last_event_id=kept.id, last_hash=kept.hash))

    async with sessions() as session:
        assert await audit.verify_chain(session) == []  # the chain alone looks intact
    _, problems = await check()
    # The anchored event is gone, or (when emails sent meanwhile took its number) not the same.
    assert decision.event_id in [event_id for event_id, _ in problems], problems


async def test_a_method_not_allowed_names_every_method_the_path_takes(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    api = await client.options("/api/business-units")
    one = await client.delete("/api/measures/1/checklist")
    page = await reader.put("/measures")

    assert (api.status_code, api.headers["allow"]) == (405, "GET, POST")
    assert (one.status_code, one.headers["allow"]) == (405, "GET")
    assert page.status_code == 405 and page.headers["allow"] == "GET"


async def test_the_gate_policy_can_make_a_closure_link_wait_for_its_person_to_sign_in(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=Stage.IMPLEMENTED, implemented=True
    )
    path = f"/api/portfolios/{org.portfolio_id}/gate-policy"
    policy = (await client.get(path)).json() | {"link_sign_in": {"closure": True}}
    assert (await client.put(path, json=policy)).status_code == 201, policy
    assert (await api.submit(org.owner_id)).status_code == 201
    verify = links_in(await email_to(smtp, "cleo.controller@", "Verify"))["Verify figures"]

    anonymous, _ = await open_link(browser, verify)
    posted = await confirm(browser, verify, "any", evidence_ref="GL")
    await with_passwords(sessions, org, PASSWORD)
    await sign_in(second_browser, "cleo.controller@acme.example", PASSWORD)
    signed_in, csrf = await open_link(second_browser, verify)

    for refused in (anonymous, posted):
        assert refused.status_code == 403
        assert "Please sign in as Cleo Controller first" in refused.text
    assert "the gate policy asks the link&#39;s person to sign in first" not in posted.text
    assert await _refusals(sessions) == ["the gate policy asks the link's person to sign in first"]
    assert signed_in.status_code == 200 and csrf  # the verification form, for her
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED


async def test_gates_at_or_above_an_amount_can_need_the_approver_signed_in(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    path = f"/api/portfolios/{org.portfolio_id}/gate-policy"
    policy = (await client.get(path)).json()
    large = policy | {"link_sign_in": {"at_or_above": "100000"}}  # the measure plans 120,000
    assert (await client.put(path, json=large)).status_code == 201
    assert (await api.submit(org.owner_id)).status_code == 201
    approve = links_in(await email_to(smtp, "sam.sponsor@", "Decision needed"))["Approve"]

    answer, _ = await open_link(browser, approve)

    assert answer.status_code == 403 and "Please sign in as Sam Sponsor first" in answer.text
    # A policy published after the gate opened changes nothing for it: the gate keeps its own.
    assert (await client.put(path, json=policy)).status_code == 201
    assert (await open_link(browser, approve))[0].status_code == 403
