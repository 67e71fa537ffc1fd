"""The worker's SQLite engine runs statements in place on its loop (services.sqlite_on_loop):
it must keep every promise of a normal engine — commit or nothing, no lost writes under
concurrency — and must not hang when another process holds SQLite's write lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.measure import Measure
from models.people import Person
from services.db import create_engine, session_factory, transaction
from tests.factories import complete_measure, make_org

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def sqlite_file(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("statements run in place only on SQLite")
    assert url.database is not None
    return url.database


@pytest_asyncio.fixture(loop_scope="session")
async def on_loop(database_url: str, sqlite_file: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, sqlite_on_loop=True)
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
