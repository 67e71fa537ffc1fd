"""A measure's lifecycle as the doors (REST, pages, signed links) use it: start its workflow,
tell it that its figures changed, and carry out a person's command on it.

A command is a Temporal update on the measure's workflow. Its refusals come back as the domain
errors below; each door turns them into its own answer (JSON, a message on the page, a link
page), so the rules are applied once, inside the workflow."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.closure import ClosureProblem
from models.criteria import UnmetCriterion
from models.measure import workflow_id_for
from workflows import search_attributes
from workflows.contracts import MeasureFacts, MeasureStart, MeasureState
from workflows.measure import CONFLICT, FIGURES, RULE, UNMET, MeasureWorkflow

Answer = TypeVar("Answer")


class LifecycleRefused(Exception):
    """The workflow said no; nothing changed. `str(error)` says why in a sentence."""


class NotAllowedNow(LifecycleRefused):
    """The measure's state does not allow the command (a gate already open, on hold, closed)."""


class RuleViolated(LifecycleRefused):
    """A rule forbids it: segregation of duties, a rejection without comment, ..."""


class CriteriaUnmet(LifecycleRefused):
    """The gate's criteria are not met."""

    def __init__(self, message: str, unmet: list[UnmetCriterion]) -> None:
        super().__init__(message)
        self.unmet = unmet


class FiguresInvalid(LifecycleRefused):
    """The verified figures are wrong."""

    def __init__(self, message: str, problems: list[ClosureProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class NoLifecycle(Exception):
    """The measure has no workflow (it does not exist)."""


class LifecycleUnavailable(Exception):
    """Temporal cannot be reached right now; nothing changed."""


async def start(
    client: Client,
    *,
    facts: MeasureFacts,
    task_queue: str,
    history_limit: int | None = None,
    state: MeasureState | None = None,
) -> WorkflowHandle[Any, Any]:
    """Start the measure's workflow, or return the running one: calling twice starts one.
    With `state`, it resumes from that state as a continued run does (benchmarks/storm.py opens
    thousands of gates at one instant this way)."""
    return await client.start_workflow(
        MeasureWorkflow.run,
        MeasureStart(facts=facts, state=state, history_limit=history_limit),
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


async def command(
    client: Client,
    *,
    measure_id: int,
    update: Any,
    message: BaseModel,
    result_type: type[Answer],
    update_id: str | None = None,
) -> Answer:
    """Carry out `update` (a MeasureWorkflow update) with `message`; the workflow's answer.

    `update_id` makes a retried command act once. Raises a LifecycleRefused, NoLifecycle or
    LifecycleUnavailable."""
    handle = client.get_workflow_handle(workflow_id_for(measure_id))
    with _reaching(measure_id):
        try:
            return await handle.execute_update(
                update, message, id=update_id, result_type=result_type
            )
        except WorkflowUpdateFailedError as failure:
            cause = failure.cause
            if isinstance(cause, ApplicationError):
                raise refusal(cause) from failure
            raise


async def view(client: Client, *, measure_id: int) -> Any:
    """Where the measure's lifecycle stands (MeasureWorkflow.view)."""
    handle = client.get_workflow_handle_for(MeasureWorkflow.run, workflow_id_for(measure_id))
    with _reaching(measure_id):
        return await handle.query(MeasureWorkflow.view)


def refusal(error: ApplicationError) -> LifecycleRefused:
    """The domain error for the workflow's refusal `error`."""
    if error.type == UNMET:
        unmet = error.details[0]["unmet"] if error.details else []
        return CriteriaUnmet(error.message, [UnmetCriterion.model_validate(u) for u in unmet])
    if error.type == FIGURES:
        problems = error.details[0] if error.details else []
        return FiguresInvalid(error.message, [ClosureProblem.model_validate(p) for p in problems])
    if error.type == CONFLICT:
        return NotAllowedNow(error.message)
    if error.type == RULE:
        return RuleViolated(error.message)
    raise error


@contextmanager
def _reaching(measure_id: int) -> Iterator[None]:
    try:
        yield
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NoLifecycle(f"measure {measure_id} has no lifecycle") from error
        raise LifecycleUnavailable(
            "the measure's lifecycle cannot be reached right now; nothing was changed"
        ) from error
