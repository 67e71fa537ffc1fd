"""Changing a measure's master data (PATCH /api/measures/{id}): the same rules as creating it,
nothing frozen or final changed, one audit event with before and after, and the workflow's
checklist and search attributes following at once."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.audit import AuditEvent
from models.columns import utcnow
from models.measure import Measure
from models.people import Person
from models.stages import Stage
from services.db import transaction
from tests.factories import as_person, give_api_token, make_org, measure_payload
from tests.lifecycle_helpers import db_stage, start_measure
from tests.link_helpers import confirm, email_to, links_in, open_link
from tests.support import CapturingSmtp
from workflows import search_attributes as sa


async def test_a_measure_created_without_its_people_gets_them_and_can_pass_its_gate(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    worker: object,
) -> None:
    org = await make_org(sessions)
    bare = measure_payload(org) | {"sponsor_id": None, "controller_id": None}
    created = (await client.post("/api/measures", json=bare)).json()
    url = f"/api/measures/{created['id']}"
    missing = (await client.get(f"{url}/checklist")).json()["unmet"]
    assert "roles_assigned" in [u["code"] for u in missing]

    changed = await client.patch(
        url, json={"sponsor_id": org.sponsor_id, "controller_id": org.controller_id}
    )

    assert changed.status_code == 200, changed.text
    assert (changed.json()["sponsor_id"], changed.json()["controller_id"]) == (
        org.sponsor_id,
        org.controller_id,
    )
    now = (await client.get(f"{url}/checklist")).json()["unmet"]
    assert "roles_assigned" not in [u["code"] for u in now]
    async with sessions() as session:
        [event] = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "measure.updated"))
        ).all()
    assert event.before == {"sponsor_id": None, "controller_id": None}
    assert event.after == {"sponsor_id": org.sponsor_id, "controller_id": org.controller_id}


async def test_segregation_of_duties_and_the_organization_hold_on_every_change(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, other = await make_org(sessions), await make_org(sessions, tag=".b")
    created = (await client.post("/api/measures", json=measure_payload(org))).json()
    url = f"/api/measures/{created['id']}"

    same = await client.patch(url, json={"controller_id": org.owner_id})
    foreign = await client.patch(url, json={"legal_entity_id": other.legal_entity_id})
    empty = await client.patch(url, json={"title": None})
    unknown = await client.patch(url, json={"package_id": other.package_id})

    assert same.status_code == 422
    assert same.json()["detail"][0]["loc"] == ["body", "controller_id"]
    assert "segregation of duties" in same.json()["detail"][0]["msg"]
    assert foreign.status_code == 422
    assert "another organization" in foreign.json()["detail"][0]["msg"]
    assert (empty.status_code, empty.json()["detail"][0]["loc"]) == (422, ["body", "title"])
    assert unknown.status_code == 422  # the package decides the portfolio: not changed here
    assert (await client.get(url)).json()["controller_id"] == org.controller_id


async def test_the_owner_edits_the_content_but_not_the_people(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    created = (await client.post("/api/measures", json=measure_payload(org))).json()
    url = f"/api/measures/{created['id']}"
    owner = as_person(org.owner_id)

    retitled = await client.patch(url, json={"title": "Retire the SAN for good"}, headers=owner)
    reassigned = await client.patch(url, json={"sponsor_id": org.controller_id}, headers=owner)
    by_sponsor = await client.patch(
        url, json={"title": "x" * 10}, headers=as_person(org.sponsor_id)
    )

    assert retitled.status_code == 200 and retitled.json()["title"] == "Retire the SAN for good"
    assert reassigned.status_code == 403
    assert by_sponsor.status_code == 403


async def test_after_decided_the_plan_basis_is_frozen_and_people_may_change(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, _ = await start_measure(sessions, temporal_env, settings, client, stage=Stage.DECIDED)
    async with transaction(sessions) as session:  # as passing the Decided gate leaves it
        await session.exec(
            update(Measure).where(col(Measure.id) == api.measure_id).values(plan_frozen_at=utcnow())
        )
    url = f"/api/measures/{api.measure_id}"

    frozen = await client.patch(url, json={"horizon_months": 36, "baseline_amount": "1"})
    moved = await client.patch(url, json={"business_unit_id": None, "title": "SAN, decided"})

    assert frozen.status_code == 422
    named = {tuple(p["loc"]) for p in frozen.json()["detail"]}
    assert named == {("body", "horizon_months"), ("body", "baseline_amount")}
    assert "frozen since the Decided gate" in frozen.json()["detail"][0]["msg"]
    assert moved.status_code == 200, moved.text
    handle = temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}")

    async def business_unit_upserted() -> None:
        async for event in handle.fetch_history_events(wait_new_event=True):
            upsert = event.upsert_workflow_search_attributes_event_attributes
            if "BusinessUnitId" in upsert.search_attributes.indexed_fields:
                return

    # The Temporal UI's filters follow the master data.
    await asyncio.wait_for(business_unit_upserted(), timeout=20)
    found = (await handle.describe()).typed_search_attributes
    assert found.get(sa.BUSINESS_UNIT_ID) is None


async def test_a_new_sponsor_takes_over_the_pending_approval(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    old_link = links_in(await email_to(smtp, "sam.sponsor@", "Decision needed"))["Approve"]
    nina = (
        await client.post(
            "/api/people", json={"email": "nina.new@acme.example", "name": "Nina New"}
        )
    ).json()
    await give_api_token(sessions, await _person(sessions, nina["id"]))

    moved = await client.patch(f"/api/measures/{api.measure_id}", json={"sponsor_id": nina["id"]})

    assert moved.status_code == 200, moved.text
    new_link = links_in(await email_to(smtp, "nina.new@", "Decision needed"))["Approve"]
    old, _ = await open_link(browser, old_link)
    assert old.status_code == 410 and "another person now acts as sponsor" in old.text
    assert (await api.decide(org.sponsor_id)).status_code == 404  # no longer sees the measure
    _, csrf = await open_link(browser, new_link)
    assert (await confirm(browser, new_link, csrf)).status_code == 200
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED
    async with sessions() as session:
        [replaced] = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "lifecycle.approver_replaced")
            )
        ).all()
    assert replaced.after is not None
    assert (replaced.after["replaced"], replaced.after["now_acting"]) == (
        [org.sponsor_id],
        [nina["id"]],
    )


async def _person(sessions: async_sessionmaker[AsyncSession], person_id: int) -> Person:
    async with sessions() as session:
        person = await session.get(Person, person_id)
        assert person is not None
        return person


async def test_a_cleared_description_is_empty_not_a_server_error(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    created = (await client.post("/api/measures", json=measure_payload(org))).json()

    answer = await client.patch(f"/api/measures/{created['id']}", json={"description": None})

    assert answer.status_code == 200, answer.text
    assert answer.json()["description"] == ""
