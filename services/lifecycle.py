"""Starting a measure's lifecycle workflow."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from models.measure import workflow_id_for
from workflows import search_attributes
from workflows.contracts import MeasureFacts, MeasureStart
from workflows.measure import MeasureWorkflow


async def start(
    client: Client, *, facts: MeasureFacts, task_queue: str, history_limit: int | None = None
) -> WorkflowHandle:
    """Start the measure's workflow, or return the running one: calling twice starts one."""
    return await client.start_workflow(
        MeasureWorkflow.run,
        MeasureStart(facts=facts, history_limit=history_limit),
        id=workflow_id_for(facts.measure_id),
        task_queue=task_queue,
        # A retried create joins the workflow already running; a closed measure never restarts.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=search_attributes.for_measure(facts),
        memo={"title": facts.title},
        static_summary=f"M-{facts.measure_id}: {facts.title}",
    )
