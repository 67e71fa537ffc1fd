"""The audit trail checked against its anchors in the measures' Temporal histories.

Each batch of lifecycle facts returns the trail's head after it (`FactsRecorded.anchor`), and
Temporal keeps that result in the measure's history. Someone who can rewrite the database can
re-chain or cut short the trail so that it verifies on its own, but not the histories on the
Temporal server: an anchor whose event is gone, or whose hash differs, shows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from activities.names import RECORD_FACTS
from models.audit import AuditEvent
from services.audit import ChainProblem
from workflows.contracts import AuditAnchor, FactsRecorded

SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED


async def every_measure(client: Client) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    """Every run of every measure workflow in the namespace."""
    async for execution in client.list_workflows("WorkflowType = 'MeasureWorkflow'"):
        yield client.get_workflow_handle(execution.id, run_id=execution.run_id)


async def anchors_in(
    client: Client, handle: WorkflowHandle[Any, Any]
) -> AsyncIterator[AuditAnchor]:
    """The anchors in one workflow run's history, oldest first."""
    records: set[int] = set()
    async for event in handle.fetch_history_events():
        if event.event_type == SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == RECORD_FACTS:
                records.add(event.event_id)
        elif event.event_type == COMPLETED:
            completed = event.activity_task_completed_event_attributes
            if completed.scheduled_event_id in records and completed.result.payloads:
                [recorded] = await client.data_converter.decode(
                    completed.result.payloads, [FactsRecorded]
                )
                if recorded.anchor is not None:
                    yield recorded.anchor


async def check(
    session: AsyncSession, client: Client, handles: AsyncIterator[WorkflowHandle[Any, Any]]
) -> tuple[int, list[ChainProblem]]:
    """How many anchors of the `handles`' histories were checked, and where the stored trail
    disagrees with one."""
    checked, problems = 0, []
    async for handle in handles:
        async for anchor in anchors_in(client, handle):
            checked += 1
            problem = await _problem(session, anchor, handle.id)
            if problem is not None:
                problems.append(problem)
    return checked, problems


async def _problem(
    session: AsyncSession, anchor: AuditAnchor, workflow_id: str
) -> ChainProblem | None:
    stored = (
        await session.exec(select(AuditEvent.hash).where(AuditEvent.id == anchor.event_id))
    ).first()
    if stored is None:
        return ChainProblem(
            event_id=anchor.event_id,
            problem=f"is missing, though {workflow_id}'s history saw it written "
            "(events were removed)",
        )
    if stored != anchor.hash:
        return ChainProblem(
            event_id=anchor.event_id,
            problem=f"differs from what {workflow_id}'s history saw written "
            "(the trail was rewritten)",
        )
    return None
