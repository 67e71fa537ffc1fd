"""Measures live for months: the lifecycle survives a killed worker, keeps its history bounded,
and never writes a fact twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import WorkflowContinuedAsNewError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.lifecycle import LifecycleActivities
from config.settings import Settings
from models.audit import AuditEvent
from models.gates import GateDecisionRecord, LifecycleEvent
from models.outbox import OutboxEmail
from models.stages import Stage
from services import audit
from tests.factories import complete_measure, make_org, start_lifecycle
from tests.lifecycle_helpers import Api, count, db_stage, line_id, verified_figures
from tests.record_history import keep
from tests.support import CapturingSmtp
from workflows.contracts import FactBatch, FactRecord, GateSubmitted


async def test_recording_the_same_facts_twice_writes_them_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    batch = FactBatch(
        measure_id=measure_id,
        at=datetime(2027, 1, 5, 9, 30, tzinfo=UTC),
        records=[
            FactRecord(
                key="gate1/submitted",
                fact=GateSubmitted(
                    round=1,
                    target=Stage.IDENTIFIED,
                    by=org.owner_id,
                    policy_version=0,
                    required=[],
                    criteria_checked=[],
                ),
            )
        ],
    )
    record = LifecycleActivities(sessions=sessions).record_facts
    env = ActivityEnvironment()

    written = [await env.run(record, batch), await env.run(record, batch)]
    concurrent = await asyncio.gather(*(env.run(record, batch) for _ in range(5)))

    assert [r.written for r in written] == [1, 0]
    assert [r.written for r in concurrent] == [0] * 5
    # The first write anchors the trail's head in the history; a repeat wrote nothing to anchor.
    assert written[0].anchor is not None and written[1].anchor is None
    assert await count(sessions, LifecycleEvent) == 1
    async with sessions() as session:
        actions = (await session.exec(select(AuditEvent.action))).all()
    assert actions.count("lifecycle.gate_submitted") == 1


def _worker_process(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VALUEGATE_DATABASE_URL": settings.database_url,
        "VALUEGATE_TEMPORAL_ADDRESS": settings.temporal_address,
        "VALUEGATE_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "VALUEGATE_SMTP_HOST": settings.smtp_host,
        "VALUEGATE_SMTP_PORT": str(settings.smtp_port),
        "VALUEGATE_PUBLIC_BASE_URL": str(settings.public_base_url),
    }
    return subprocess.Popen([sys.executable, "-m", "valuegate", "worker"], env=env)


async def test_a_killed_worker_process_loses_nothing_and_writes_nothing_twice(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    api = Api(client, measure_id)
    worker = _worker_process(settings)
    try:
        assert (await api.submit(org.owner_id)).status_code == 201  # served by the worker process
        await smtp.wait_for(2)  # welcome + approval request
        worker.kill()  # SIGKILL in the middle of the gate: no goodbye, no cleanup
        worker.wait()

        decision = asyncio.create_task(api.decide(org.sponsor_id))  # arrives while no worker runs
        await asyncio.sleep(0)
        worker = _worker_process(settings)
        response = await asyncio.wait_for(decision, 60)
        await smtp.wait_for(3)  # the outcome email goes out after the answer, in the background
    finally:
        worker.kill()
        worker.wait()

    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "identified"
    assert await db_stage(sessions, measure_id) is Stage.IDENTIFIED
    assert await count(sessions, GateDecisionRecord) == 1
    async with sessions() as session:
        keys = (await session.exec(select(LifecycleEvent.key))).all()
        emails = (await session.exec(select(func.count()).select_from(OutboxEmail))).one()
        assert await audit.verify_chain(session) == []
    assert sorted(keys) == [
        "gate1/closed",
        "gate1/decision/sponsor",
        "gate1/submitted",
        "stage1/to-identified",
    ]
    assert len(smtp.messages) == emails == 3  # welcome, approval request, outcome: each once


async def test_a_long_history_continues_as_new_and_keeps_its_state(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: Worker,
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, stage=Stage.DECIDED, implemented=True)
    await start_lifecycle(
        sessions, temporal_env.client, measure_id, settings.temporal_task_queue, history_limit=20
    )
    handle = temporal_env.client.get_workflow_handle(f"measure-{measure_id}")
    first_run = (await handle.describe()).run_id
    api = Api(client, measure_id)

    await api.pass_gate(org, [org.sponsor_id])
    await api.hold(org.owner_id)
    await api.resume(org.owner_id)
    # Once nothing is in flight (updates, emails), the long history continues as new.
    first = temporal_env.client.get_workflow_handle(f"measure-{measure_id}", run_id=first_run)
    with pytest.raises(WorkflowContinuedAsNewError):
        await asyncio.wait_for(first.result(follow_runs=False), timeout=60)
    assert (await api.submit(org.owner_id)).status_code == 201
    closed = await api.close(
        org.controller_id, verified_figures(await line_id(sessions, measure_id))
    )

    assert closed.status_code == 200, closed.text
    assert closed.json()["stage"] == "closed"
    description = await handle.describe()
    assert description.run_id != first_run  # it continued as new at least once
    await keep(
        temporal_env.client.get_workflow_handle(f"measure-{measure_id}", run_id=first_run),
        "continued_as_new_first_run",
    )
    await keep(handle, "continued_as_new_last_run")
