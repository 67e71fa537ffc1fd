"""The pages people see: the measure list, a measure, the caught mail, health."""

from __future__ import annotations

from pathlib import Path

import aiosmtplib
import httpx
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Environment, Settings
from services.db import create_engine
from tests.factories import add_person, make_org, measure_payload
from tests.link_helpers import sign_in
from tests.support import free_port
from valuegate.mailcatcher import start_catcher

HOSTILE = '<script>alert("x")</script> Retire "legacy" & co'


async def test_measure_list_shows_stage_and_both_statuses_escaped(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    created = (await client.post("/api/measures", json=measure_payload(org, title=HOSTILE))).json()

    page = await reader.get("/measures")

    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Retire" in page.text
    assert "<script>alert" not in page.text
    assert f'href="/measures/{created["id"]}"' in page.text
    assert "Defined" in page.text
    assert 'title="Delivery: green"' in page.text
    assert 'title="Value: none"' in page.text


async def test_measure_page_links_its_workflow_in_the_temporal_ui(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    org = await make_org(sessions)
    created = (await client.post("/api/measures", json=measure_payload(org))).json()

    page = await reader.get(f"/measures/{created['id']}")

    ui = str(settings.temporal_ui_url).rstrip("/")
    assert f'href="{ui}/namespaces/default/workflows/measure-{created["id"]}"' in page.text
    assert "Pia Reader" in page.text and "Sign out" in page.text
    assert (await reader.get("/measures/999999")).status_code == 404


async def _catch_one(settings: Settings) -> None:
    assert settings.mail_catcher_dir is not None
    port = free_port()
    catcher = start_catcher(settings.mail_catcher_dir, port=port)
    try:
        await aiosmtplib.send(
            "Subject: Gate <Detailed> needs you\r\nTo: a@b.example\r\n\r\nHello",
            sender="valuegate@localhost",
            recipients=["a@b.example"],
            hostname="127.0.0.1",
            port=port,
        )
    finally:
        catcher.stop()


async def test_caught_mail_page_shows_an_admin_what_the_catcher_received(
    reader: httpx.AsyncClient, settings: Settings
) -> None:
    await _catch_one(settings)

    listing = await reader.get("/mail")

    assert listing.status_code == 200
    assert "Gate &lt;Detailed&gt; needs you" in listing.text
    assert "a@b.example" in listing.text
    assert 'href="/mail"' in (await reader.get("/measures")).text  # in the admin's menu


async def test_caught_mail_is_for_signed_in_admins_only(
    browser: httpx.AsyncClient,
    second_browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await _catch_one(settings)
    person = await add_person(
        sessions,
        email="olga.owner@acme.example",
        name="Olga Owner",
        password="a long enough password",
    )
    assert (await sign_in(browser, person.email, "a long enough password")).status_code == 303

    refused = await browser.get("/mail")
    anonymous = await second_browser.get("/mail")

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Only an admin may read the caught mail." in refused.text
    assert "needs you" not in refused.text
    assert 'href="/mail"' not in (await browser.get("/measures")).text  # not in her menu
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in")


async def test_mail_page_is_absent_without_a_catcher_or_outside_dev(
    engine: object, temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    for settings in (
        Settings(database_url=database_url),
        Settings(
            database_url=database_url,
            environment=Environment.PRODUCTION,
            secret_key="s" * 40,  # type: ignore[arg-type]
            mail_catcher_dir=tmp_path,
        ),
    ):
        app = create_app(settings, engine=engine, temporal=temporal_env.client)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            absent = await http.get("/mail")
        assert absent.status_code == 404
        assert "There is no mail page here" in absent.text


async def test_health_reports_database_and_temporal(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "database": "ok", "temporal": "ok"},
    )


async def test_health_says_which_dependency_is_down(temporal_env: WorkflowEnvironment) -> None:
    unreachable = "postgresql://nobody@127.0.0.1:1/none"
    engine = create_engine(unreachable)
    app = create_app(
        Settings(database_url=unreachable), engine=engine, temporal=temporal_env.client
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        response = await http.get("/healthz")
    await engine.dispose()
    assert response.status_code == 503
    assert response.json()["temporal"] == "ok"
    assert response.json()["database"].startswith("unreachable")


async def test_the_api_docs_work_offline(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    script = await client.get("/static-offline-docs/swagger-ui-bundle.js")
    schema = (await client.get("/openapi.json")).json()

    assert docs.status_code == 200 and "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    assert script.status_code == 200 and len(script.content) > 100_000
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_the_measure_list_searches_filters_and_pages(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    for number in range(55):
        payload = measure_payload(org, title=f"Saving {number:02d}")
        assert (await client.post("/api/measures", json=payload)).status_code == 201

    first = await reader.get("/measures", params={"q": "saving", "stage": "", "sort": "title"})
    found = await reader.get("/measures", params={"q": "Saving 07", "stage": "defined"})

    assert first.status_code == 200
    assert "55 measures, showing 1 to 50." in first.text
    assert "Saving 00" in first.text and "Saving 50" not in first.text
    assert 'href="/measures?q=saving&amp;sort=title&amp;offset=50" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    second = await reader.get("/measures?q=saving&sort=title&offset=50")
    assert "showing 51 to 55." in second.text and "Saving 54" in second.text
    assert "1 measure, showing 1 to 1." in found.text


async def test_a_manager_creates_a_measure_in_the_browser(
    reader: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
) -> None:
    org = await make_org(sessions)
    page = await reader.get("/measures/new")
    assert page.status_code == 200
    form = BeautifulSoup(page.text, "html.parser").select_one('form[action="/measures/new"]')
    assert form is not None
    csrf = form.select_one('input[name="csrf"]')
    assert csrf is not None
    fields = {
        "csrf": str(csrf["value"]),
        "package_id": str(org.package_id),
        "title": "Retire the tape library",
        "owner_id": str(org.owner_id),
        "sponsor_id": str(org.sponsor_id),
        "controller_id": str(org.owner_id),  # the owner twice: refused
        "legal_entity_id": str(org.legal_entity_id),
        "plan_start": "2027-01",
        "horizon_months": "24",
    }

    refused = await reader.post("/measures/new", data=fields)
    created = await reader.post(
        "/measures/new", data=fields | {"controller_id": str(org.controller_id)}
    )

    assert refused.status_code == 422
    said = BeautifulSoup(refused.text, "html.parser").select_one("span#controller_id-error")
    assert said is not None and "segregation of duties" in said.get_text()
    assert created.status_code == 303
    measure_id = int(created.headers["location"].rsplit("/", 1)[-1])
    shown = await reader.get(created.headers["location"])
    assert "<h1>Retire the tape library</h1>" in shown.text
    handle = temporal_env.client.get_workflow_handle(f"measure-{measure_id}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
