"""SQLite connections whose statements run in place on the caller's event loop.

In the worker, each statement's hand-off to aiosqlite's thread and back waited for a turn of a
loop busy with workflow tasks, far longer than SQLite itself; in place, a transaction never
yields the loop half-way. The loop waits while SQLite works (microseconds), or while another
process holds the write lock, hence the short busy timeout of such engines (services.db). The
API keeps aiosqlite: a roll-up runs for seconds. SQLAlchemy's aiosqlite dialect takes this
connection, aiosqlite's own `Connection` with the thread hand-off replaced, through
`async_creator`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: runs a queued call at once.

    SQLAlchemy puts one call there directly (when it changes the isolation level)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is not None:
                future.set_exception(error)
            return
        if future is not None:
            future.set_result(result)


class OnLoopConnection(aiosqlite.Connection):
    """An aiosqlite connection without the thread: each call runs when it is awaited."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def __await__(self) -> Generator[Any, None, OnLoopConnection]:
        return self._open().__await__()

    async def _open(self) -> OnLoopConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def stop(self) -> None:
        """Close the SQLite connection (there is no thread to stop)."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def connector(url: URL) -> Callable[[], Awaitable[OnLoopConnection]]:
    """The `async_creator` of an engine on `url` (sqlite+aiosqlite) running statements in place."""
    args, options = SQLiteDialect_aiosqlite().create_connect_args(url)

    def open_file() -> sqlite3.Connection:
        return sqlite3.connect(*args, **options)  # type: ignore[call-overload]

    async def connect() -> OnLoopConnection:
        return await OnLoopConnection(open_file)

    return connect
