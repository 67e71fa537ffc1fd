"""Creating measures through the REST API starts exactly one lifecycle workflow."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from config.settings import Settings
from models.audit import AuditEvent
from models.figures import Milestone
from models.fx import FxRate
from models.measure import Measure
from models.organization import Portfolio
from services import totals
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import (
    Org,
    as_person,
    complete_measure,
    make_org,
    measure_payload,
    with_passwords,
)
from tests.lifecycle_helpers import start_measure
from tests.link_helpers import sign_in
from tests.support import CapturingSmtp
from workflows import search_attributes as sa


async def _count(sessions: async_sessionmaker[AsyncSession], table: type) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_create_starts_one_workflow_with_search_attributes(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
) -> None:
    org = await make_org(sessions)

    response = await client.post("/api/measures", json=measure_payload(org))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["stage"] == "defined"
    assert body["workflow_id"] == f"measure-{body['id']}"
    description = await temporal_env.client.get_workflow_handle(body["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    attributes = description.typed_search_attributes
    assert attributes.get(sa.MEASURE_STAGE) == "defined"
    assert attributes.get(sa.PORTFOLIO_ID) == org.portfolio_id
    assert attributes.get(sa.LEGAL_ENTITY_ID) == org.legal_entity_id
    assert attributes.get(sa.BUSINESS_UNIT_ID) == org.business_unit_id
    assert attributes.get(sa.IMPLEMENTATION_STATUS) == "green"
    assert attributes.get(sa.POTENTIAL_STATUS) == "none"
    assert await description.static_summary() == f"M-{body['id']}: Decommission the legacy SAN"


async def test_admin_can_filter_measures_by_stage_and_portfolio(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
) -> None:
    org = await make_org(sessions)
    created = (await client.post("/api/measures", json=measure_payload(org))).json()

    # Visibility (what the Temporal UI lists) is eventually consistent: poll until indexed.
    query = (
        f"WorkflowId = '{created['workflow_id']}' AND MeasureStage = 'defined' "
        f"AND PortfolioId = {org.portfolio_id}"
    )
    found = await _eventually_listed(temporal_env, query)
    assert found == [created["workflow_id"]]
    wrong_stage = query.replace("'defined'", "'decided'")
    assert [w.id async for w in temporal_env.client.list_workflows(wrong_stage)] == []


async def _eventually_listed(env: WorkflowEnvironment, query: str) -> list[str]:
    for _ in range(100):
        ids = [w.id async for w in env.client.list_workflows(query)]
        if ids:
            return ids
        await asyncio.sleep(0.1)
    return []


async def test_retried_create_with_same_key_returns_the_same_measure_and_one_workflow(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
) -> None:
    org = await make_org(sessions)
    headers = {"Idempotency-Key": "create-san-2027"}

    first = await client.post("/api/measures", json=measure_payload(org), headers=headers)
    handle = temporal_env.client.get_workflow_handle(first.json()["workflow_id"])
    first_run = (await handle.describe()).run_id
    again = await client.post("/api/measures", json=measure_payload(org), headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert await _count(sessions, Measure) == 1
    # The retry joined the running workflow: same run, not a second (or restarted) one.
    description = await handle.describe()
    assert (description.run_id, description.status) == (first_run, WorkflowExecutionStatus.RUNNING)


async def test_create_records_an_audit_event(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    body = (await client.post("/api/measures", json=measure_payload(org))).json()

    async with sessions() as session:
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.entity_type == "measure"))
        ).all()
    assert [(e.action, e.entity_id, e.channel) for e in events] == [
        ("measure.created", str(body["id"]), "api")
    ]
    assert events[0].actor_id is not None  # the signed-in person, not an anonymous "api"
    assert events[0].after is not None and events[0].after["title"] == "Decommission the legacy SAN"


async def test_owner_gets_one_assignment_email(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    smtp: CapturingSmtp,
    worker: Worker,
) -> None:
    org = await make_org(sessions)
    body = (await client.post("/api/measures", json=measure_payload(org))).json()

    [message] = await smtp.wait_for(1)

    assert message["To"] == org.owner_email
    assert f"M-{body['id']}" in message["Subject"]
    link = f"https://valuegate.example.com/measures/{body['id']}"
    assert link in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_bad_references_are_refused_with_the_field_named_and_nothing_written(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    trail_before = await _count(sessions, AuditEvent)

    response = await client.post(
        "/api/measures", json=measure_payload(org, package_id=9999, legal_entity_id=8888)
    )

    assert response.status_code == 422
    fields = {tuple(problem["loc"]) for problem in response.json()["detail"]}
    assert fields == {("body", "package_id"), ("body", "legal_entity_id")}
    assert await _count(sessions, Measure) == 0
    assert await _count(sessions, AuditEvent) == trail_before


async def test_owner_sponsor_and_controller_must_be_three_people(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)

    response = await client.post(
        "/api/measures", json=measure_payload(org, controller_id=org.owner_id)
    )

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "controller_id"]
    assert "segregation of duties" in problem["msg"]
    assert await _count(sessions, Measure) == 0


async def test_malformed_body_is_a_clear_422(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)

    response = await client.post(
        "/api/measures", json=measure_payload(org, title="x", horizon_months=0)
    )

    assert response.status_code == 422
    fields = {problem["loc"][-1] for problem in response.json()["detail"]}
    assert fields == {"title", "horizon_months"}


async def test_list_and_read_measures(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    ids = [
        (await client.post("/api/measures", json=measure_payload(org, title=t))).json()["id"]
        for t in ("First measure", "Second measure")
    ]

    listed = (await client.get("/api/measures")).json()
    one = await client.get(f"/api/measures/{ids[0]}")
    missing = await client.get("/api/measures/424242")

    assert [m["title"] for m in listed] == ["Second measure", "First measure"]
    assert one.json()["title"] == "First measure"
    assert missing.status_code == 404


async def test_a_measure_cannot_use_another_organizations_unit_or_entity(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ours, theirs = await make_org(sessions), await make_org(sessions, tag=".b")
    payload = measure_payload(
        ours, business_unit_id=theirs.business_unit_id, legal_entity_id=theirs.legal_entity_id
    )

    answer = await client.post("/api/measures", json=payload)

    assert answer.status_code == 422
    named = {tuple(p["loc"]): p["msg"] for p in answer.json()["detail"]}
    assert named == {
        ("body", "business_unit_id"): "this business unit belongs to another organization "
        "than the package",
        ("body", "legal_entity_id"): "this legal entity belongs to another organization "
        "than the package",
    }
    assert await _count(sessions, Measure) == 0


async def test_find_measures_by_words_code_stage_and_node_with_a_total(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await make_org(sessions), await make_org(sessions, tag=".b")
    made = [
        (await client.post("/api/measures", json=measure_payload(org, title=title))).json()
        for org, title in (
            (first, "Retire the legacy SAN"),
            (first, "Renegotiate the telecom contract"),
            (second, "Consolidate the SAN backups"),
        )
    ]

    async def titles(**params: object) -> tuple[list[str], str]:
        answer = await client.get("/api/measures", params=params)
        assert answer.status_code == 200, answer.text
        return [m["title"] for m in answer.json()], answer.headers["x-total-count"]

    assert await titles(q="san") == (
        ["Consolidate the SAN backups", "Retire the legacy SAN"],
        "2",
    )
    assert await titles(q=f"M-{made[1]['id']}") == (["Renegotiate the telecom contract"], "1")
    assert await titles(portfolio_id=second.portfolio_id) == (["Consolidate the SAN backups"], "1")
    assert await titles(stage="defined", sort="title", limit=1) == (
        ["Consolidate the SAN backups"],
        "3",
    )
    assert (await titles(stage="closed"))[1] == "0"  # a filter that matches nothing


async def test_an_unknown_filter_or_value_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/measures", params={"colour": "red"})
    wrong = await client.get("/api/measures", params={"stage": "finished"})

    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "colour"]
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"][:2] == ["query", "stage"]


async def test_find_measures_waiting_for_me_and_by_status(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: Worker,
) -> None:
    waiting, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    late = await _late_measure(client, sessions, org, "Late")

    async def ids(**params: object) -> list[int]:
        answer = await client.get("/api/measures", params=params, headers=as_person(org.sponsor_id))
        assert answer.status_code == 200, answer.text
        return [m["id"] for m in answer.json()]

    assert await ids(waiting_for_me="true") == [waiting.measure_id]
    assert await ids(overdue="true") == [late["id"]]
    assert await ids(delivery="red") == [late["id"]]
    assert await ids(delivery="green") == [waiting.measure_id]
    assert await ids(value="none") == [late["id"]]  # no plan yet: no value status
    assert await ids(delivery="red", value="none") == [late["id"]]


async def test_measures_sort_by_planned_value_in_the_group_currency(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    euro, dollar, yen = (
        await make_org(sessions, tag=".eur"),
        await make_org(sessions, currency="USD", tag=".usd"),
        await make_org(sessions, currency="JPY", tag=".jpy"),
    )
    ids = {
        "euro": await complete_measure(sessions, euro, title="Plan in euro"),
        "dollar": await complete_measure(sessions, dollar, title="Plan in dollars"),
        "yen": await complete_measure(sessions, yen, title="Plan in yen, no rate"),
    }
    empty = (await client.post("/api/measures", json=measure_payload(euro, title="No plan"))).json()
    async with transaction(sessions) as session:
        portfolio = await session.get(Portfolio, dollar.portfolio_id)
        assert portfolio is not None
        # 1 USD = 3 EUR here: the dollar plan (12 months of 10,000 USD) is worth 360,000 EUR.
        session.add(FxRate(organization_id=portfolio.organization_id, currency="USD", rate=3))

    async def order(sort: str) -> list[int]:
        answer = await client.get("/api/measures", params={"sort": sort})
        assert answer.status_code == 200, answer.text
        return [m["id"] for m in answer.json()]

    assert await order("-planned_value") == [ids["dollar"], ids["euro"], empty["id"], ids["yen"]]
    assert await order("planned_value") == [empty["id"], ids["euro"], ids["dollar"], ids["yen"]]
    page = await reader.get("/measures", params={"sort": "-planned_value"})
    text = " ".join(page.text.split())
    assert "€360,000.00" in text and "€120,000.00" in text and "no rate" in text
    assert text.index("Plan in dollars") < text.index("Plan in euro") < text.index("No plan")


async def test_the_measure_list_page_filters_by_status_overdue_and_waiting_for_me(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: Worker,
) -> None:
    waiting, org = await start_measure(sessions, temporal_env, settings, client, submitted=True)
    await _late_measure(client, sessions, org, "Late one")
    await with_passwords(sessions, org, READER_PASSWORD)
    await sign_in(browser, "sam.sponsor@acme.example", READER_PASSWORD)

    async def shown(**params: str) -> str:
        answer = await browser.get("/measures", params=params)
        assert answer.status_code == 200, answer.text
        return answer.text

    form = await shown()
    for field in ('name="delivery"', 'name="value"', 'name="overdue"', 'name="waiting_for_me"'):
        assert field in form
    mine = await shown(waiting_for_me="true", delivery="", value="")
    assert f"/measures/{waiting.measure_id}" in mine and "Late one" not in mine
    assert 'name="waiting_for_me" value="true" checked' in mine
    overdue = await shown(overdue="true")
    assert "Late one" in overdue and f'/measures/{waiting.measure_id}"' not in overdue
    red = await shown(delivery="red")
    assert "Late one" in red and '<option value="red" selected>' in red
    wrong = await browser.get("/measures", params={"delivery": "purple"})
    assert wrong.status_code == 422
    assert "Delivery: " in wrong.text and "Nothing was changed" not in wrong.text


async def _late_measure(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], org: Org, title: str
) -> dict[str, Any]:
    """A new measure whose only milestone is 30 days overdue."""
    late: dict[str, Any] = (
        await client.post("/api/measures", json=measure_payload(org, title=title))
    ).json()
    async with transaction(sessions) as session:
        session.add(
            Milestone(
                measure_id=late["id"],
                title="Order placed",
                planned_date=date.today() - timedelta(days=30),
            )
        )
        await session.flush()
        await totals.refresh_first_open(session, late["id"])
    return late
