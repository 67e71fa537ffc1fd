"""The baseline for benchmarks/lifecycle.py: a workflow with the same number of updates and
activities as a measure's lifecycle, where every activity does nothing."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


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
