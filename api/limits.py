"""Turning away clients that keep failing: guessed link tokens, wrong passwords."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from weakref import WeakValueDictionary

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class FailureLimiter:
    """Counts failures per client in a moving one-minute window; past the limit the client is
    turned away until the window has moved on. In memory: per API process."""

    def __init__(self, per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._turns: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    @asynccontextmanager
    async def turn(self, client: str) -> AsyncIterator[bool]:
        """One attempt of `client` at a time; yields whether the client may still try. A failure
        counted with `hit` inside the turn is seen by the next one, so fifty concurrent wrong
        passwords are as limited as fifty in a row."""
        lock = self._turns.get(client)
        if lock is None:
            lock = self._turns[client] = asyncio.Lock()
        async with lock:
            yield await self._limiter.test(self._item, client)

    async def hit(self, client: str) -> None:
        """Count one failure of `client`."""
        await self._limiter.hit(self._item, client)
