"""The lifecycle of one measure as a durable workflow, id `measure-<id>`."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.names import SEND_ASSIGNMENT_EMAIL
    from models.stages import TERMINAL_STAGES, Stage
    from workflows.contracts import LifecycleView, MeasureRef, MeasureStart

# Email never blocks or fails the lifecycle: retry with backoff for as long as it takes.
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)


@workflow.defn(name="MeasureWorkflow")
class MeasureWorkflow:
    @workflow.init
    def __init__(self, start: MeasureStart) -> None:
        self._measure_id = start.facts.measure_id
        self._stage = start.facts.stage

    @workflow.run
    async def run(self, start: MeasureStart) -> LifecycleView:
        if self._stage not in TERMINAL_STAGES:
            await workflow.execute_activity(
                SEND_ASSIGNMENT_EMAIL,
                MeasureRef(measure_id=self._measure_id),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=EMAIL_RETRY,
                summary="Email the owner that the measure is theirs",
            )
        await workflow.wait_condition(lambda: self._stage in TERMINAL_STAGES)
        return self.view()

    @workflow.query(name="view")
    def view(self) -> LifecycleView:
        return LifecycleView(measure_id=self._measure_id, stage=self._stage)

    @property
    def stage(self) -> Stage:
        return self._stage
