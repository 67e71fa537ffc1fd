"""Turning away clients that keep failing: guessed link tokens, wrong passwords."""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class FailureLimiter:
    """Counts failures per client in a moving one-minute window; past the limit the client is
    turned away until the window has moved on. In memory: per API process."""

    def __init__(self, per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def exhausted(self, client: str) -> bool:
        return not await self._limiter.test(self._item, client)

    async def hit(self, client: str) -> None:
        await self._limiter.hit(self._item, client)
