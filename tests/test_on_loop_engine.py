"""The worker's engine runs statements in place on its loop (services.sqlite_on_loop,
services.postgres_on_loop): it must keep every promise of a normal engine — commit or nothing,
exact money, no lost writes under concurrency — must not give the loop away in the middle of a
transaction, and must not hang when another connection holds the lock it needs."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, Channel
from models.measure import Measure
from models.people import Person
from services import audit
from services.db import ON_LOOP_LOCK_TIMEOUT_MS, create_engine, session_factory, transaction
from tests.factories import complete_measure, make_org

pytestmark = pytest.mark.asyncio(loop_scope="session")

ACTOR = Actor(label="test", channel=Channel.WORKFLOW)


@pytest.fixture
def sqlite_file(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's write lock")
    assert url.database is not None
    return url.database


@pytest_asyncio.fixture(loop_scope="session")
async def on_loop(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncEngine]:
    # `sessions` empties a shared PostgreSQL database after the test, once this engine is gone.
    engine = create_engine(database_url, on_loop=True)
    yield engine
    await engine.dispose()


async def _people_named(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessions() as session:
        found = await session.exec(select(func.count()).where(Person.name == name))
        return int(found.one())


async def test_a_transaction_commits_whole_or_not_at_all(on_loop: AsyncEngine) -> None:
    sessions = session_factory(on_loop)
    async with transaction(sessions) as session:
        session.add(Person(email="kept@acme.example", name="Kept"))
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            session.add(Person(email="gone@acme.example", name="Gone"))
            await session.flush()
            raise RuntimeError("the activity failed half-way")
    assert await _people_named(sessions, "Kept") == 1
    assert await _people_named(sessions, "Gone") == 0


async def test_money_comes_back_exact(on_loop: AsyncEngine) -> None:
    sessions = session_factory(on_loop)
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    async with transaction(sessions) as session:
        measure = await session.get(Measure, measure_id)
        assert measure is not None
        measure.baseline_amount = Decimal("1234567.89") + Decimal("0.01") * 3
    async with sessions() as session:
        stored = await session.get(Measure, measure_id)
    assert stored is not None
    assert stored.baseline_amount == Decimal("1234567.92")
    assert isinstance(stored.baseline_amount, Decimal)


async def test_concurrent_transactions_on_one_loop_all_land(on_loop: AsyncEngine) -> None:
    sessions = session_factory(on_loop)

    async def add(i: int) -> None:
        async with transaction(sessions) as session:
            session.add(Person(email=f"p{i}@acme.example", name="Concurrent"))
            await session.flush()
            await asyncio.sleep(0)  # hand the loop to the others mid-transaction
            session.add(Person(email=f"q{i}@acme.example", name="Concurrent"))

    await asyncio.gather(*(add(i) for i in range(40)))
    assert await _people_named(sessions, "Concurrent") == 80


async def test_a_transaction_keeps_the_loop_until_it_commits(on_loop: AsyncEngine) -> None:
    """No loop turn between a transaction's statements: a busy worker loop cannot leave it
    waiting half-way with its locks held."""
    sessions = session_factory(on_loop)
    await _people_named(sessions, "Nobody")  # connected already
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    try:
        before = turns
        async with sessions() as session:
            async with session.begin():
                session.add(Person(email="whole@acme.example", name="Whole"))
                await session.flush()
                await session.exec(select(func.count()).where(Person.name == "Whole"))
                await audit.record(
                    session, actor=ACTOR, entity_type="person", entity_id=1, action="test.whole"
                )
            committed = turns  # (closing the session afterwards may take turns: nothing held)
        assert committed == before
    finally:
        ticker.cancel()


@pytest.mark.timeout(10)  # a normal engine would wait 15 s for the lock
async def test_a_held_write_lock_fails_fast_and_writes_nothing(
    on_loop: AsyncEngine, sqlite_file: str
) -> None:
    """Another process holding the write lock: the transaction gives up after the short busy
    timeout (the activity is retried) instead of stalling the worker's loop for long."""
    sessions = session_factory(on_loop)
    assert await _people_named(sessions, "Late") == 0  # connected (and in WAL mode) already
    other = sqlite3.connect(sqlite_file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with transaction(sessions) as session:
                session.add(Person(email="late@acme.example", name="Late"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await _people_named(sessions, "Late") == 0
    async with transaction(sessions) as session:  # the retry, once the lock is free
        session.add(Person(email="late@acme.example", name="Late"))
    assert await _people_named(sessions, "Late") == 1


@pytest.mark.timeout(10)
async def test_a_held_row_lock_fails_fast_and_writes_nothing(
    on_loop: AsyncEngine, database_url: str
) -> None:
    """Another connection holding the audit trail's head: the transaction gives up after the
    short lock timeout (the activity is retried) instead of stalling the worker's loop."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL's row locks")
    sessions = session_factory(on_loop)
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as other:
        other.execute("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            async with transaction(sessions) as session:
                session.add(Person(email="late@acme.example", name="Late"))
                await audit.record(
                    session, actor=ACTOR, entity_type="person", entity_id=1, action="late"
                )
        waited = time.monotonic() - started
        other.rollback()
    assert ON_LOOP_LOCK_TIMEOUT_MS / 1000 <= waited < ON_LOOP_LOCK_TIMEOUT_MS / 1000 + 2
    assert await _people_named(sessions, "Late") == 0
    async with transaction(sessions) as session:  # the retry, once the lock is free
        session.add(Person(email="late@acme.example", name="Late"))
        await audit.record(session, actor=ACTOR, entity_type="person", entity_id=1, action="late")
    assert await _people_named(sessions, "Late") == 1
