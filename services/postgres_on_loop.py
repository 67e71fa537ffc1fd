"""PostgreSQL connections whose statements run in place on the caller's event loop.

psycopg's async connection sends a statement, hands the socket to the event loop and resumes
when the answer is there: a loop turn per statement. In the worker, whose loop is busy with
workflow tasks, those turns are what a transaction waits for, not PostgreSQL. Measured with
`benchmarks/lifecycle.py` (200 lifecycles): sessions sat `idle in transaction` in
pg_stat_activity waiting for their turn, the 15 pooled connections were all checked out, the
activities waiting for one held the worker's activity slots, and the server stopped handing
activities over eagerly.

This connection is psycopg's own `AsyncConnection` with one change: it waits for the server's
answer in place (psycopg's blocking wait) instead of through the loop, so a transaction runs
from its first statement to its commit without giving the loop away, as the worker's SQLite
connection does (services.sqlite_on_loop). The loop waits for each round trip to the database
instead (a fraction of a millisecond to a server on the same host or network; a distant server
would make the worker wait that long per statement) — and, while another transaction holds a row
this one must lock, for that transaction: engines built with it set a short `lock_timeout`
(services.db), after which the statement fails and the activity is retried. The API keeps the
awaiting connection: a portfolio roll-up runs for seconds and must not stop other requests.

Connecting still goes through the loop (no transaction is open yet).
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
