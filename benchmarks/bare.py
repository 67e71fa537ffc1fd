"""The baseline for benchmarks/lifecycle.py: a workflow with the same number of updates and
activities as a measure's lifecycle, where every activity does nothing.

Run as a worker process of its own, as `valuegate worker` is:

    python -m benchmarks.bare --address localhost:7233 --task-queue bare
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker


class BarePlan(BaseModel):
    on_start: int  # activities the lifecycle runs when it starts
    per_update: list[int]  # activities each update runs, in order


@activity.defn
async def noop() -> None:
    """An activity that does nothing."""


@workflow.defn
class BareWorkflow:
    @workflow.init
    def __init__(self, plan: BarePlan) -> None:
        self._plan = plan
        self._updates = 0

    @workflow.run
    async def run(self, plan: BarePlan) -> int:
        for _ in range(plan.on_start):
            await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self._updates == len(plan.per_update))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._updates

    @workflow.update
    async def step(self) -> int:
        activities = self._plan.per_update[self._updates]
        self._updates += 1
        for _ in range(activities):
            await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        return self._updates


async def _serve(address: str, task_queue: str) -> None:
    """Run the bare worker until SIGTERM or SIGINT."""
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=task_queue, workflows=[BareWorkflow], activities=[noop]):
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the bare Temporal worker of the benchmark")
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    arguments = parser.parse_args()
    asyncio.run(_serve(arguments.address, arguments.task_queue))
