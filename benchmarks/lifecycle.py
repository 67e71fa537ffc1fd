"""Throughput of whole measure lifecycles (Defined → Closed) against bare Temporal.

ValueGate: N measures, each driven over HTTP from Defined to Closed — 5 gate submissions,
5 approvals, 1 controller closure — through the real stack laid out as `valuegate dev` lays it
out: a `valuegate api` process, a `valuegate worker` process per CPU core (at most 4), the
database and the SMTP catcher. Baseline: N bare workflows on the same dev server, run by worker
processes of their own, as many as ValueGate's (benchmarks/bare.py), with the same number of
updates and activities per lifecycle, where every activity does nothing. This process only drives
both and prints the throughputs and the ratio.

    .venv/bin/python -m benchmarks.lifecycle --measures 200
    .venv/bin/python -m benchmarks.lifecycle --measures 200 --rounds 2   # VG, bare, bare, VG
    .venv/bin/python -m benchmarks.lifecycle --measures 200 --workers 1  # one worker a side
    .venv/bin/python -m benchmarks.lifecycle --measures 200 --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from benchmarks.bare import BarePlan, BareWorkflow
from benchmarks.stack import (
    api_ready,
    catcher,
    percentile,
    process,
    stack_settings,
    worker_polling,
)
from services import migrate
from services.db import create_engine, session_factory
from tests.factories import Org, as_person, complete_measure, make_org, start_lifecycle
from tests.lifecycle_helpers import Api, line_id, verified_figures
from tests.support import TEST_DATABASE_URL_VARIABLE, free_port, fresh_database
from valuegate import loop_check
from valuegate.binaries import temporal_cli
from valuegate.dev import default_workers
from workflows.search_attributes import ALL_KEYS

VALUEGATE_ONLY = False
WORKERS = 1  # ValueGate's worker processes (--workers)
BARE_WORKERS = 1  # the baseline's worker processes (--bare-workers)
IDLE_ACTIVITIES = False  # ValueGate's workflow with activities that do nothing (--idle-activities)


async def _drive(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run `one(i)` for i < count, at most `concurrency` at a time; seconds taken."""
    gate = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(count)))
    return time.perf_counter() - started


def _cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds used so far by process `pid`, or by the whole machine (Linux's /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    with contextlib.suppress(OSError):
        if pid is not None:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / ticks
        busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        return (sum(map(int, busy)) - int(busy[3]) - int(busy[4])) / ticks  # minus idle, iowait
    return float("nan")


def _shared_processes() -> dict[str, list[int]]:
    """The processes both phases share: the dev server, the SMTP catcher and this driver."""
    children = psutil.Process().children()
    return {
        "dev server": [c.pid for c in children if c.name() == "temporal"],
        "catcher": [c.pid for c in children if "mail-catcher" in c.cmdline()],
        "driver": [os.getpid()],
    }


@contextlib.contextmanager
def _cpu_report(label: str, processes: dict[str, list[int]]) -> Iterator[None]:
    """Print the CPU seconds the named processes, those both phases share, and the whole
    machine used in the block."""
    processes = processes | _shared_processes()

    def now() -> dict[str, float]:
        return {name: sum(_cpu_seconds(pid) for pid in pids) for name, pids in processes.items()}

    before, machine, started = now(), _cpu_seconds(), time.perf_counter()
    yield
    used = {name: seconds - before[name] for name, seconds in now().items()}
    parts = ", ".join(f"{name} {seconds:.0f}" for name, seconds in used.items())
    print(
        f"{label} CPU seconds: {parts}, whole machine {_cpu_seconds() - machine:.0f} "
        f"in {time.perf_counter() - started:.0f} s of wall time"
    )


async def _pass_gate(api: Api, org: Org, approvers: list[int]) -> float:
    """Submit the next gate and have it approved; seconds from the POST of the last approval
    until `GET /api/measures/{id}/lifecycle` shows the new stage."""
    submitted = await api.submit(org.owner_id)
    assert submitted.status_code == 201, submitted.text
    target = submitted.json()["target"]
    for approver in approvers[:-1]:
        decided = await api.decide(approver)
        assert decided.status_code == 200, decided.text
    started = time.perf_counter()
    decided = await api.decide(approvers[-1])
    assert decided.status_code == 200, decided.text
    path = f"/api/measures/{api.measure_id}/lifecycle"
    while True:
        seen = await api.http.get(path, headers=as_person(org.owner_id))
        assert seen.status_code == 200, seen.text
        if seen.json()["stage"] == target:
            return time.perf_counter() - started


async def _valuegate(
    client: Client,
    url: str,
    count: int,
    concurrency: int,
    smtp_port: int,
    latencies: list[float] | None = None,
    loop_check: Path | None = None,
) -> tuple[float, list[str]]:
    """Drive `count` lifecycles through the real stack; seconds taken and the workflow ids.
    With `latencies`, each gate's approval-to-next-stage seconds are added to it; with
    `loop_check`, the workers run in asyncio's debug mode and write their slow callbacks
    there (one file per worker: loop_check.0, loop_check.1, ...)."""
    latencies = [] if latencies is None else latencies
    engine = create_engine(url)
    sessions = session_factory(engine)
    task_queue = f"bench-{uuid.uuid4()}"
    org = await make_org(sessions, tag=uuid.uuid4().hex[:8])
    measure_ids = [
        await complete_measure(sessions, org, implemented=True, title=f"Benchmark measure {i}")
        for i in range(count)
    ]
    figures = {m: verified_figures(await line_id(sessions, m)) for m in measure_ids}
    approvers = [
        [org.sponsor_id],
        [org.controller_id],
        [org.sponsor_id, org.controller_id],
        [org.sponsor_id],
    ]
    api_port = free_port()
    env = stack_settings(client, url, task_queue, smtp_port, api_port)
    with contextlib.ExitStack() as running:
        worker = (
            ("-m", "benchmarks.idle_worker") if IDLE_ACTIVITIES else ("-m", "valuegate", "worker")
        )
        checks = (
            [("--loop-check", f"{loop_check}.{n}") for n in range(WORKERS)]
            if loop_check and not IDLE_ACTIVITIES
            else [() for _ in range(WORKERS)]
        )
        workers = [running.enter_context(process(*worker, *check, env=env)) for check in checks]
        api_pid = running.enter_context(
            process("-m", "valuegate", "api", "--port", str(api_port), env=env)
        )
        # One kept-alive connection per concurrent lifecycle, as people's browsers keep theirs:
        # httpx keeps 20 by default and would open a fresh connection for every other request.
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        base_url = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
            await api_ready(http)
            await worker_polling(client, task_queue)
            running.enter_context(_cpu_report("ValueGate", {"worker": workers, "api": [api_pid]}))

            async def lifecycle(i: int) -> None:
                measure_id = measure_ids[i]
                await start_lifecycle(sessions, client, measure_id, task_queue)
                api = Api(http, measure_id)
                for gate in approvers:
                    latencies.append(await _pass_gate(api, org, gate))
                assert (await api.submit(org.owner_id)).status_code == 201
                closed = await api.close(org.controller_id, figures[measure_id])
                assert closed.status_code == 200, closed.text

            seconds = await _drive(count, concurrency, lifecycle)
    await engine.dispose()
    return seconds, [f"measure-{m}" for m in measure_ids]


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


async def _retried(client: Client, workflow_ids: list[str]) -> tuple[Counter[str], int]:
    """Why the workflows' activities that needed more than one attempt failed before (a lock
    timeout, a database error, an SMTP refusal), and how many activities ran."""
    failures: Counter[str] = Counter()
    activities = 0
    for workflow_id in workflow_ids:
        names: dict[int, str] = {}
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attributes = event.activity_task_scheduled_event_attributes
                names[event.event_id] = attributes.activity_type.name
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                activities += 1
                started = event.activity_task_started_event_attributes
                if started.attempt > 1:
                    name = names[started.scheduled_event_id]
                    failures[f"{name}: {started.last_failure.message[:100]}"] += 1
    return failures, activities


async def _activity_times(client: Client, workflow_id: str) -> dict[str, float]:
    """Mean seconds from scheduling to completion per activity type, in one lifecycle."""
    scheduled: dict[int, tuple[str, float]] = {}
    times: dict[str, list[float]] = {}
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        at = event.event_time.ToNanoseconds() / 1e9
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, at)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            name, since = scheduled[
                event.activity_task_completed_event_attributes.scheduled_event_id
            ]
            times.setdefault(name, []).append(at - since)
    return {name: sum(spans) / len(spans) for name, spans in sorted(times.items())}


async def _bare(client: Client, plan: BarePlan, count: int, concurrency: int) -> float:
    queue = f"bare-{uuid.uuid4()}"
    address = client.service_client.config.target_host
    with contextlib.ExitStack() as running:
        workers = [
            running.enter_context(
                process("-m", "benchmarks.bare", "--address", address, "--task-queue", queue)
            )
            for _ in range(BARE_WORKERS)
        ]
        await worker_polling(client, queue)
        running.enter_context(_cpu_report("bare Temporal", {"worker": workers}))

        async def lifecycle(i: int) -> None:
            handle: WorkflowHandle = await client.start_workflow(  # type: ignore[type-arg]
                BareWorkflow.run, plan, id=f"bare-{queue}-{i}", task_queue=queue
            )
            for _ in plan.per_update:
                await handle.execute_update(BareWorkflow.step)
            await handle.result()

        return await _drive(count, concurrency, lifecycle)


async def main(
    count: int,
    concurrency: int,
    database_url: str | None,
    smtp_port: int,
    folder: Path,
    rounds: int,
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
            await _run(env.client, url, count, concurrency, smtp_port, rounds)
    finally:
        await env.shutdown()


async def _run(
    client: Client, url: str, count: int, concurrency: int, smtp_port: int, rounds: int
) -> None:
    if not VALUEGATE_ONLY:
        await _check_loops(client, url, count, concurrency, smtp_port)
    # Rounds alternate which side goes first (ValueGate, bare; bare, ValueGate; ...), so a
    # machine that speeds up or slows down during the run weighs on both sides alike.
    plan: BarePlan | None = None
    valuegate_times: list[float] = []
    bare_times: list[float] = []
    latencies: list[float] = []
    for round_ in range(rounds):
        for phase in ("valuegate", "bare")[:: 1 if round_ % 2 == 0 else -1]:
            if phase == "valuegate":
                seconds, workflows = await _valuegate(
                    client, url, count, concurrency, smtp_port, latencies
                )
                valuegate_times.append(seconds)
                failures, activities = await _retried(client, workflows)
                print(
                    f"ValueGate activities run more than once: {failures.total()} of {activities}"
                )
                for message, times in failures.most_common(3):
                    print(f"  {times} after: {message}")
                sample = workflows[0]
                if plan is None:
                    plan = await _profile(client, sample)
                    print(f"activities of {sample}, mean seconds from scheduled to completed:")
                    for name, mean in (await _activity_times(client, sample)).items():
                        print(f"  {name:28} {mean:6.3f}")
            elif not VALUEGATE_ONLY and plan is not None:
                bare_times.append(await _bare(client, plan, count, concurrency))
    assert plan is not None
    valuegate_rate = count * len(valuegate_times) / sum(valuegate_times)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    latency = (
        f"approval to next stage (GET .../lifecycle), {len(latencies)} gates: "
        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms  (target p95 < 300 ms)"
    )
    if VALUEGATE_ONLY:
        print(f"ValueGate  {valuegate_rate:8.2f} lifecycles/s  ({sum(valuegate_times):.1f}s)")
        print(latency)
        return
    bare_rate = count * len(bare_times) / sum(bare_times)
    activities = plan.on_start + sum(plan.per_update)
    print(
        f"lifecycles: {count}, concurrency: {concurrency}, database: {url.split(':')[0]}, "
        f"worker processes: ValueGate {WORKERS}, bare {BARE_WORKERS}, rounds: {rounds}, "
        f"cores: {os.cpu_count()}" + (", ValueGate's activities idle" if IDLE_ACTIVITIES else "")
    )
    print(f"per lifecycle: {len(plan.per_update)} updates, {activities} activities")
    if rounds > 1:
        ratios = ", ".join(f"{b / v:.2f}" for v, b in zip(valuegate_times, bare_times, strict=True))
        print(f"ratio per round: {ratios}")
    print(f"bare Temporal  {bare_rate:8.2f} lifecycles/s  ({_seconds(bare_times)})")
    print(f"ValueGate      {valuegate_rate:8.2f} lifecycles/s  ({_seconds(valuegate_times)})")
    print(f"ratio ValueGate / bare Temporal: {valuegate_rate / bare_rate:.2f}  (target >= 0.5)")
    print(latency)


async def _check_loops(
    client: Client, url: str, count: int, concurrency: int, smtp_port: int
) -> None:
    """A check phase before the timed ones: the same load with every worker's loop in
    asyncio's debug mode; prints how many callbacks held a worker's loop longer than 100 ms."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "loop"
        await _valuegate(client, url, count, concurrency, smtp_port, loop_check=report)
        found = await asyncio.to_thread(loop_check.read_all, report)
    slow = sum(f.count for f in found)
    print(
        f"check phase ({count} lifecycles, workers in asyncio debug mode): {slow} callbacks "
        f"held a worker's loop longer than {loop_check.SLOW_SECONDS * 1000:.0f} ms "
        f"(target 0; {len(found)} of {WORKERS} workers reported)"
    )
    slowest = sorted((entry for f in found for entry in f.slowest), reverse=True)
    for seconds, callback in slowest[:6]:
        print(f"  {seconds:6.3f} s  {callback}")


def _seconds(times: list[float]) -> str:
    return " + ".join(f"{t:.1f}s" for t in times)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--measures", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="ValueGate and baseline phases each, alternating which goes first (default 1)",
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file; or a PostgreSQL URL")
    parser.add_argument(
        "--valuegate-only", action="store_true", help="skip the baseline (for profiling)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="ValueGate's worker processes (default: as `valuegate dev` runs them, one per CPU "
        f"core, at most 4: {default_workers()} here)",
    )
    parser.add_argument(
        "--bare-workers",
        type=int,
        help="the baseline's worker processes (default: as many as ValueGate's)",
    )
    parser.add_argument(
        "--idle-activities",
        action="store_true",
        help="ValueGate's workflow and API with activities that do nothing "
        "(benchmarks/idle_worker.py): what the activities' work costs",
    )
    args = parser.parse_args()
    VALUEGATE_ONLY = args.valuegate_only
    WORKERS = args.workers
    BARE_WORKERS = args.bare_workers or args.workers
    IDLE_ACTIVITIES = args.idle_activities
    folder = Path(tempfile.mkdtemp(prefix="valuegate-bench-"))
    with catcher(folder / "mail") as smtp_port:
        asyncio.run(
            main(
                args.measures,
                args.concurrency,
                args.database_url,
                smtp_port,
                folder,
                args.rounds,
            )
        )
