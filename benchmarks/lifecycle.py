"""Throughput of whole measure lifecycles (Defined → Closed) against bare Temporal.

ValueGate: N measures, each driven through the REST API (in-process) from Defined to Closed —
5 gate submissions, 5 approvals, 1 controller closure — with the real worker, database and SMTP
catcher. Baseline: N bare workflows on the same dev server, with the same number of updates and
activities per lifecycle, where every activity does nothing. Prints both throughputs and the ratio.

    .venv/bin/python -m benchmarks.lifecycle --measures 200
    .venv/bin/python -m benchmarks.lifecycle --measures 200 --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from benchmarks.bare import BarePlan, BareWorkflow, noop
from services import migrate
from services.db import create_engine, session_factory
from tests.factories import complete_measure, make_org, start_lifecycle
from tests.lifecycle_helpers import Api, line_id, verified_figures
from tests.support import TEST_DATABASE_URL_VARIABLE, free_port, fresh_database
from valuegate.binaries import temporal_cli
from valuegate.settings import Settings
from valuegate.worker import build_worker
from workflows.search_attributes import ALL_KEYS

VALUEGATE_ONLY = False


async def _drive(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run `one(i)` for i < count, at most `concurrency` at a time; seconds taken."""
    gate = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(count)))
    return time.perf_counter() - started


async def _valuegate(
    client: Client, url: str, count: int, concurrency: int, smtp_port: int
) -> tuple[float, str]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    settings = Settings(
        database_url=url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        temporal_task_queue=f"bench-{uuid.uuid4()}",
    )
    orgs = [await make_org(sessions) for _ in range(1)]
    org = orgs[0]
    measure_ids = [
        await complete_measure(sessions, org, implemented=True, title=f"Benchmark measure {i}")
        for i in range(count)
    ]
    app = create_app(settings, engine=engine, temporal=client)
    approvers = [
        [org.sponsor_id],
        [org.controller_id],
        [org.sponsor_id, org.controller_id],
        [org.sponsor_id],
    ]

    async with (
        build_worker(client, settings=settings, sessions=sessions),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://bench", timeout=120
        ) as http,
    ):

        async def lifecycle(i: int) -> None:
            measure_id = measure_ids[i]
            await start_lifecycle(sessions, client, measure_id, settings.temporal_task_queue)
            api = Api(http, measure_id)
            for gate in approvers:
                await api.pass_gate(org, gate)
            assert (await api.submit(org.owner_id)).status_code == 201
            closed = await api.close(
                org.controller_id, verified_figures(await line_id(sessions, measure_id))
            )
            assert closed.status_code == 200, closed.text

        seconds = await _drive(count, concurrency, lifecycle)
    await engine.dispose()
    return seconds, f"measure-{measure_ids[0]}"


async def _profile(client: Client, workflow_id: str) -> BarePlan:
    """How many activities a real lifecycle ran at start and inside each update."""
    on_start, per_update, current = 0, [], None
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            current = 0
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            per_update.append(current or 0)
            current = None
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if current is None:
                on_start += 1
            else:
                current += 1
    return BarePlan(on_start=on_start, per_update=per_update)


async def _bare(client: Client, plan: BarePlan, count: int, concurrency: int) -> float:
    queue = f"bare-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[noop]):

        async def lifecycle(i: int) -> None:
            handle: WorkflowHandle = await client.start_workflow(  # type: ignore[type-arg]
                BareWorkflow.run, plan, id=f"bare-{queue}-{i}", task_queue=queue
            )
            for _ in plan.per_update:
                await handle.execute_update(BareWorkflow.step)
            await handle.result()

        return await _drive(count, concurrency, lifecycle)


async def main(
    count: int, concurrency: int, database_url: str | None, smtp_port: int, folder: Path
) -> None:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_existing_path=temporal_cli(),
        dev_server_log_level="error",
    )
    if database_url:  # a database of its own on that server, dropped afterwards
        os.environ[TEST_DATABASE_URL_VARIABLE] = database_url
    try:
        with fresh_database(folder) as url:
            migrate.upgrade(url)
            await _run(env.client, url, count, concurrency, smtp_port)
    finally:
        await env.shutdown()


async def _run(client: Client, url: str, count: int, concurrency: int, smtp_port: int) -> None:
    valuegate_seconds, sample = await _valuegate(client, url, count, concurrency, smtp_port)
    if VALUEGATE_ONLY:
        print(
            f"ValueGate  {count / valuegate_seconds:8.2f} lifecycles/s  ({valuegate_seconds:.1f}s)"
        )
        return
    plan = await _profile(client, sample)
    bare_seconds = await _bare(client, plan, count, concurrency)
    valuegate_rate, bare_rate = count / valuegate_seconds, count / bare_seconds
    activities = plan.on_start + sum(plan.per_update)
    print(f"lifecycles: {count}, concurrency: {concurrency}, database: {url.split(':')[0]}")
    print(f"per lifecycle: {len(plan.per_update)} updates, {activities} activities")
    print(f"bare Temporal  {bare_rate:8.2f} lifecycles/s  ({bare_seconds:.1f}s)")
    print(f"ValueGate      {valuegate_rate:8.2f} lifecycles/s  ({valuegate_seconds:.1f}s)")
    print(f"ratio ValueGate / bare Temporal: {valuegate_rate / bare_rate:.2f}  (target >= 0.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--measures", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", help="default: a fresh SQLite file; or a PostgreSQL URL")
    parser.add_argument(
        "--valuegate-only", action="store_true", help="skip the baseline (for profiling)"
    )
    args = parser.parse_args()
    VALUEGATE_ONLY = args.valuegate_only
    folder = Path(tempfile.mkdtemp(prefix="valuegate-bench-"))
    smtp_port = free_port()
    # As in `valuegate dev`, the catcher is a process of its own, not part of the worker.
    catcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "valuegate",
            "mail-catcher",
            "--port",
            str(smtp_port),
            "--dir",
            str(folder / "mail"),
        ],
        stdout=subprocess.PIPE,
    )
    assert catcher.stdout is not None
    catcher.stdout.readline()  # it says so once it listens
    try:
        asyncio.run(main(args.measures, args.concurrency, args.database_url, smtp_port, folder))
    finally:
        catcher.terminate()
        catcher.wait()
