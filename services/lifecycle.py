"""Starting a measure's lifecycle workflow, and telling it that its figures changed."""

from __future__ import annotations

import logging

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

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


async def figures_changed(client: Client, measure_id: int) -> None:
    """Tell the measure's workflow that its figures or milestones changed, so its search
    attributes show the new dual status. Best effort: a closed measure's workflow has ended, and
    the figures are saved whatever Temporal answers."""
    handle = client.get_workflow_handle(workflow_id_for(measure_id))
    try:
        await handle.signal(MeasureWorkflow.figures_changed)
    except RPCError as error:
        logging.getLogger(__name__).info("M-%s: status not refreshed: %s", measure_id, error)
