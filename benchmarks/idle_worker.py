"""A worker for benchmarks/lifecycle.py --idle-activities: ValueGate's real MeasureWorkflow, with
activities that do next to nothing. It shows how much of the gap to bare Temporal is the
workflow and the API, and how much is the activities' database and email work.

The snapshot and the policy are read from the database once per measure and portfolio and then
answered from memory (the workflow needs real ones for its criteria); facts and emails are not
written or sent. Settings come from the environment, as for `valuegate worker`.

    python -m benchmarks.idle_worker
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.worker import Worker

from activities import names
from config.settings import Settings
from models.criteria import MeasureSnapshot
from models.policy import GatePolicy
from services import policies, snapshot
from services.db import create_engine, session_factory
from services.temporal_client import connect
from valuegate.worker import WORKFLOWS
from workflows.contracts import FactBatch, MeasureRef, Notice, PortfolioRef

T = TypeVar("T")


class IdleActivities:
    """The lifecycle's activities without their work."""

    def __init__(self, database_url: str) -> None:
        self._sessions = session_factory(create_engine(database_url))
        self._snapshots: dict[int, MeasureSnapshot] = {}
        self._policies: dict[int, GatePolicy] = {}

    @activity.defn(name=names.LOAD_SNAPSHOT)
    async def load_snapshot(self, ref: MeasureRef) -> MeasureSnapshot:
        read = partial(snapshot.load, measure_id=ref.measure_id)
        return await self._once(self._snapshots, ref.measure_id, read)

    @activity.defn(name=names.LOAD_POLICY)
    async def load_policy(self, ref: PortfolioRef) -> GatePolicy:
        read = partial(policies.current, portfolio_id=ref.portfolio_id)
        return await self._once(self._policies, ref.portfolio_id, read)

    async def _once(
        self,
        known: dict[int, T],
        key: int,
        read: Callable[[AsyncSession], Awaitable[T]],
    ) -> T:
        """`known[key]`, read from the database the first time."""
        if key not in known:
            async with self._sessions() as session:
                known[key] = await read(session)
        return known[key]

    @activity.defn(name=names.RECORD_FACTS)
    async def record_facts(self, batch: FactBatch) -> int:
        return len(batch.records)

    @activity.defn(name=names.NOTIFY)
    async def send_lifecycle_notice(self, notice: Notice) -> int:
        return 1

    @activity.defn(name=names.SEND_ASSIGNMENT_EMAIL)
    async def send_assignment_email(self, ref: MeasureRef) -> bool:
        return True


async def _serve() -> None:
    """Run until SIGTERM or SIGINT."""
    settings = Settings()
    client = await connect(settings)
    idle = IdleActivities(settings.database_url)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    activities: list[Callable[..., Any]] = [
        idle.load_snapshot,
        idle.load_policy,
        idle.record_facts,
        idle.send_lifecycle_notice,
        idle.send_assignment_email,
    ]
    async with Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=activities,
    ):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
