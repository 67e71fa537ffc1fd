"""PostgreSQL connections whose statements run in place on the caller's event loop.

psycopg's async connection resumes after each statement on a turn of the loop; in the busy
worker those turns, not PostgreSQL, were what a transaction waited for. This is psycopg's own
`AsyncConnection` waiting for the answer in place (psycopg's blocking wait), so a transaction
runs to its commit without giving the loop away. The loop waits for each round trip instead,
and for a row lock another transaction holds: such engines set a short `lock_timeout`
(services.db). The API keeps the awaiting connection. Connecting still goes through the loop.
"""

from __future__ import annotations

from typing import TypeVar

import psycopg
from psycopg import waiting
from psycopg.abc import PQGen

Result = TypeVar("Result")

# psycopg's own interval between checks for an interrupt while it waits.
WAIT_INTERVAL = 0.1


class OnLoopConnection(psycopg.AsyncConnection):
    """A psycopg async connection that waits for the server in place."""

    async def wait(  # psycopg's own signature, `timeout` included
        self,
        gen: PQGen[Result],
        interval: float = WAIT_INTERVAL,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Result:
        return waiting.wait(gen, self.pgconn.socket, interval=interval, timeout=timeout)
