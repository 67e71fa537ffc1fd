"""The pages people see: the measure list, a measure, the caught mail, health."""

from __future__ import annotations

import aiosmtplib
import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from services.db import create_engine
from tests.factories import make_org, measure_payload
from tests.support import free_port
from valuegate.mailcatcher import start_catcher
from valuegate.settings import Settings

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


async def test_caught_mail_page_shows_what_the_catcher_received(
    client: httpx.AsyncClient, settings: Settings
) -> None:

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

    listing = await client.get("/mail")

    assert "Gate &lt;Detailed&gt; needs you" in listing.text
    assert "a@b.example" in listing.text


async def test_mail_page_is_absent_without_a_catcher(
    engine: object, temporal_env: WorkflowEnvironment, database_url: str
) -> None:
    app = create_app(
        Settings(database_url=database_url), engine=engine, temporal=temporal_env.client
    )  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        assert (await http.get("/mail")).status_code == 404


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
