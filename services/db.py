"""Engines and sessions for SQLite and PostgreSQL from one URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _url(database_url: str, *, asynchronous: bool) -> URL:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite")
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def async_url(database_url: str) -> URL:
    """The URL with the async driver this app uses (aiosqlite or psycopg)."""
    return _url(database_url, asynchronous=True)


def sync_url(database_url: str) -> URL:
    """The URL with a synchronous driver, for migrations."""
    return _url(database_url, asynchronous=False)


def ensure_sqlite_folder(database_url: str) -> None:
    """Create the folder of a SQLite file so a first start needs no manual step."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_tuning(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def tune(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the api and the worker read while the other writes; busy_timeout makes a
        # writer wait for the lock instead of failing; foreign keys are off by default on SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return tune


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `database_url` (sqlite:/// or postgresql://), on the stock drivers:
    aiosqlite runs SQLite in a thread of its own, psycopg waits for PostgreSQL on the loop, so
    a statement waiting for a lock never holds up the caller's event loop."""
    ensure_sqlite_folder(database_url)
    url = async_url(database_url)
    if url.get_backend_name() != "sqlite":
        # PostgreSQL's JIT compiles a roll-up's plan for longer than it then runs; the app's
        # queries are better without.
        # A little more sort and hash memory keeps roll-ups of large portfolios off the disk.
        connect_args: dict[str, Any] = {"options": "-c jit=off -c work_mem=32MB"}
        # A connection the server dropped is replaced before a transaction runs on it.
        return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    # SQLite takes one writer at a time: concurrent transactions of one process would only
    # collide and sleep in SQLite's busy handler, so a process keeps a single connection and
    # its transactions queue up in the pool instead.
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_tuning(SQLITE_BUSY_TIMEOUT_MS))
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose work commits together or not at all."""
    async with sessions() as session, session.begin():
        yield session
