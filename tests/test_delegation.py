"""Delegation: a person names a deputy for a date range; the deputy receives the approval
requests and reminders too, decides on the person's behalf (recorded so in the audit trail, the
gate history and the Temporal history), and segregation of duties holds for the deputy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.audit import AuditEvent
from models.delegation import Delegation
from models.gates import GateDecisionRecord
from models.measure import workflow_id_for
from models.stages import Stage
from tests.conftest import READER_PASSWORD
from tests.factories import (
    Org,
    add_person,
    as_person,
    give_api_token,
    make_org,
    with_passwords,
)
from tests.lifecycle_helpers import db_stage, line_id, start_measure, verified_figures
from tests.link_helpers import confirm, email_to, links_in, open_link, sign_in, text_of
from tests.support import CapturingSmtp

TODAY = datetime.now(UTC).date()


async def _deputy(sessions: async_sessionmaker[AsyncSession], name: str = "Dana Deputy") -> int:
    first = name.split()[0].lower()
    person = await add_person(
        sessions, email=f"{first}.deputy@acme.example", name=name, password=READER_PASSWORD
    )
    await give_api_token(sessions, person)
    return person.id or 0


async def _name(
    http: httpx.AsyncClient, person_id: int, deputy_id: int, days: int = 7, start: int = 0
) -> httpx.Response:
    return await http.post(
        f"/api/people/{person_id}/delegations",
        json={
            "deputy_id": deputy_id,
            "starts_on": (TODAY + timedelta(days=start)).isoformat(),
            "ends_on": (TODAY + timedelta(days=start + days)).isoformat(),
        },
        headers=as_person(person_id),
    )


async def test_a_person_names_sees_and_revokes_their_deputy(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    api_org = await _org(sessions)
    dana = await _deputy(sessions)

    named = await _name(client, api_org.sponsor_id, dana)

    assert named.status_code == 201, named.text
    body = named.json()
    assert (body["person_name"], body["deputy_name"], body["active_today"]) == (
        "Sam Sponsor",
        "Dana Deputy",
        True,
    )
    seen = await client.get(
        f"/api/people/{dana}/delegations", headers=as_person(dana)
    )  # the deputy sees it too
    assert [d["id"] for d in seen.json()] == [body["id"]]
    revoked = await client.post(
        f"/api/delegations/{body['id']}/revoke", headers=as_person(api_org.sponsor_id)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    again = await client.post(
        f"/api/delegations/{body['id']}/revoke", headers=as_person(api_org.sponsor_id)
    )
    assert again.status_code == 409
    assert (
        await client.get(f"/api/people/{dana}/delegations", headers=as_person(dana))
    ).json() == []
    async with sessions() as session:
        actions = (
            await session.exec(
                select(AuditEvent.action).where(AuditEvent.entity_type == "delegation")
            )
        ).all()
    assert actions == ["delegation.created", "delegation.revoked"]


async def test_bad_delegations_are_refused_naming_the_field_and_nothing_is_written(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await _org(sessions)
    dana = await _deputy(sessions)
    url = f"/api/people/{org.sponsor_id}/delegations"
    day = TODAY.isoformat()
    cases = {
        "deputy_id": {"deputy_id": org.sponsor_id, "starts_on": day, "ends_on": day},
        "ends_on": {
            "deputy_id": dana,
            "starts_on": (TODAY - timedelta(days=9)).isoformat(),
            "ends_on": (TODAY - timedelta(days=2)).isoformat(),
        },
    }
    for field, body in cases.items():
        answer = await client.post(url, json=body, headers=as_person(org.sponsor_id))
        assert answer.status_code == 422, answer.text
        assert field in answer.text
    backwards = {"deputy_id": dana, "starts_on": "2027-02-01", "ends_on": "2027-01-01"}
    answer = await client.post(url, json=backwards, headers=as_person(org.sponsor_id))
    assert answer.status_code == 422 and "must end on or after" in answer.text
    unknown = {"deputy_id": 999_999, "starts_on": day, "ends_on": day}
    answer = await client.post(url, json=unknown, headers=as_person(org.sponsor_id))
    assert answer.status_code == 422 and "deputy_id" in answer.text

    # Someone else may not name the sponsor's deputy (an admin may); the refusal is audited.
    answer = await client.post(
        url, json={"deputy_id": dana, "starts_on": day, "ends_on": day}, headers=as_person(dana)
    )
    assert answer.status_code == 403
    async with sessions() as session:
        assert (await session.exec(select(Delegation))).all() == []
        refused = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "delegation.refused"))
        ).one()
    assert refused.actor_id == dana and refused.entity_id == str(org.sponsor_id)


async def test_the_deputy_is_asked_and_decides_on_behalf_of_the_sponsor(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    dana = await _deputy(sessions)
    assert (await _name(client, org.sponsor_id, dana)).status_code == 201

    assert (await api.submit(org.owner_id)).status_code == 201

    asked = await email_to(smtp, "dana.deputy@", "Decision needed")
    assert "as Sam Sponsor's deputy" in text_of(asked)
    await email_to(smtp, "sam.sponsor@", "Decision needed")  # the sponsor is asked as well
    link = links_in(asked)["Approve"]
    page, csrf = await open_link(browser, link)
    assert page.status_code == 200
    assert (await confirm(browser, link, csrf)).status_code == 200
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED

    async with sessions() as session:
        decision = (await session.exec(select(GateDecisionRecord))).one()
        event = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "lifecycle.gate_decided")
            )
        ).one()
    assert (decision.person_id, decision.on_behalf_of) == (dana, org.sponsor_id)
    assert event.actor_id == dana and event.after is not None
    assert event.after["on_behalf_of"] == org.sponsor_id
    # The Temporal history holds it as well: the fact the workflow recorded says for whom.
    history = await temporal_env.client.get_workflow_handle(
        workflow_id_for(api.measure_id)
    ).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    recorded = [
        a.input.payloads[0].data.decode()
        for a in scheduled
        if a.activity_type.name == "record_lifecycle_facts"
    ]
    assert any(f'"on_behalf_of":{org.sponsor_id}' in data for data in recorded)
    # The measure page's gate history says so, for the sponsor signed in.
    await with_passwords(sessions, org, READER_PASSWORD)
    await sign_in(browser, "sam.sponsor@acme.example", READER_PASSWORD)
    shown = await browser.get(f"/measures/{api.measure_id}")
    assert "Dana Deputy (sponsor, on behalf of Sam Sponsor) approved" in shown.text


async def test_a_deputy_who_takes_part_in_the_measure_cannot_approve_it(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    # The sponsor names the measure's owner as deputy: the owner would approve their own measure.
    assert (await _name(client, org.sponsor_id, org.owner_id)).status_code == 201
    assert (await api.submit(org.owner_id)).status_code == 201

    by_owner = await api.decide(org.owner_id)

    assert by_owner.status_code == 422
    assert "submitter never approves" in by_owner.json()["detail"]["message"]
    # The controller deputising for the sponsor would hold two roles on one gate.
    assert (await _name(client, org.sponsor_id, org.controller_id)).status_code == 201
    by_controller = await api.decide(org.controller_id)
    assert by_controller.status_code == 422
    assert "not a pending approver" in by_controller.json()["detail"]["message"]
    assert await db_stage(sessions, api.measure_id) is Stage.DEFINED


async def test_a_revoked_or_future_delegation_gives_no_say(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    dana = await _deputy(sessions)
    later = await _name(client, org.sponsor_id, dana, start=3)
    assert later.status_code == 201 and later.json()["active_today"] is False

    assert (await api.decide(dana)).status_code == 404  # not yet: the measure is not theirs to see
    now = await _name(client, org.sponsor_id, dana)
    await client.post(
        f"/api/delegations/{now.json()['id']}/revoke", headers=as_person(org.sponsor_id)
    )
    assert (await api.decide(dana)).status_code == 404
    assert await db_stage(sessions, api.measure_id) is Stage.DEFINED


async def test_the_controllers_deputy_closes_with_verified_figures_on_their_behalf(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=Stage.IMPLEMENTED, submitted=True
    )
    dana = await _deputy(sessions)
    assert (await _name(client, org.controller_id, dana)).status_code == 201

    closed = await api.close(dana, verified_figures(await line_id(sessions, api.measure_id)))

    assert closed.status_code == 200, closed.text
    assert await db_stage(sessions, api.measure_id) is Stage.CLOSED
    async with sessions() as session:
        decision = (
            await session.exec(
                select(GateDecisionRecord).where(col(GateDecisionRecord.person_id) == dana)
            )
        ).one()
    assert decision.on_behalf_of == org.controller_id


async def test_the_deputy_finds_the_decision_in_my_work_and_names_deputies_there(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    dana = await _deputy(sessions)
    assert (await _name(client, org.sponsor_id, dana)).status_code == 201
    await sign_in(browser, "dana.deputy@acme.example", READER_PASSWORD)

    work = await browser.get("/my-work")

    assert "sponsor for Sam Sponsor (as deputy)" in work.text
    assert f"/measures/{api.measure_id}" in work.text
    # Dana names her own deputy from the page; a range that ends before it starts is refused
    # next to the field, and nothing is written.
    csrf = _csrf(work.text)
    wrong = await browser.post(
        "/my-work/deputies",
        data={
            "csrf": csrf,
            "deputy_id": str(org.owner_id),
            "starts_on": "2027-03-10",
            "ends_on": "2027-03-01",
        },
    )
    assert wrong.status_code == 422
    assert 'id="ends_on-error"' in wrong.text and "must end on or after" in wrong.text
    async with sessions() as session:
        assert len((await session.exec(select(Delegation))).all()) == 1
    done = await browser.post(
        "/my-work/deputies",
        data={
            "csrf": csrf,
            "deputy_id": str(org.owner_id),
            "starts_on": TODAY.isoformat(),
            "ends_on": (TODAY + timedelta(days=1)).isoformat(),
        },
    )
    assert done.status_code == 303
    page = await browser.get("/my-work")
    assert "Olivia Owner" in page.text and "Revoke" in page.text


async def test_the_admin_page_lists_what_a_deactivated_sponsor_leaves_behind(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    gone = await client.patch(f"/api/people/{org.sponsor_id}", json={"active": False})
    assert gone.status_code == 200

    page = await reader.get("/admin")

    assert "Sam Sponsor: 1 measure, 1 pending approval" in page.text
    assert f'href="/measures/{api.measure_id}#edit"' in page.text


def _csrf(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def _org(sessions: async_sessionmaker[AsyncSession]) -> Org:
    return await make_org(sessions)


async def test_the_deputy_approves_on_the_measure_page(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    dana = await _deputy(sessions)
    await sign_in(browser, "dana.deputy@acme.example", READER_PASSWORD)
    before = await browser.get(f"/measures/{api.measure_id}")
    assert before.status_code == 404  # no delegation yet: not Dana's to see
    assert (await _name(client, org.sponsor_id, dana)).status_code == 201

    page = await browser.get(f"/measures/{api.measure_id}")
    assert f'action="/measures/{api.measure_id}/lifecycle/approve"' in page.text
    approved = await browser.post(
        f"/measures/{api.measure_id}/lifecycle/approve",
        data={"csrf": _csrf(page.text), "comment": "Fine while Sam is away"},
    )

    assert approved.status_code == 303
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED
    async with sessions() as session:
        event = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "lifecycle.gate_decided")
            )
        ).one()
    assert (event.actor_id, event.channel.value) == (dana, "page")
    assert event.after is not None and event.after["on_behalf_of"] == org.sponsor_id


async def test_an_admin_sees_and_revokes_delegations_on_the_admin_page(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    dana = await _deputy(sessions)
    named = (await _name(client, org.sponsor_id, dana)).json()

    page = await reader.get("/admin")
    assert f'action="/admin/delegations/{named["id"]}/revoke"' in page.text
    revoked = await reader.post(
        f"/admin/delegations/{named['id']}/revoke", data={"csrf": _csrf(page.text)}
    )

    assert revoked.status_code == 303
    async with sessions() as session:
        delegation = await session.get(Delegation, named["id"])
    assert delegation is not None and delegation.revoked_at is not None
    assert "No current delegation" in (await reader.get("/admin")).text
