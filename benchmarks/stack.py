"""Running ValueGate's processes for a benchmark: workers, the API, the SMTP catcher."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.support import free_port


@contextlib.contextmanager
def process(*arguments: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """A child Python process for the duration (its pid), stopped with SIGTERM afterwards."""
    child = subprocess.Popen(
        [sys.executable, *arguments],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield child.pid
    finally:
        child.terminate()
        child.wait(timeout=60)


def stack_settings(
    client: Client, database_url: str, task_queue: str, smtp_port: int, api_port: int
) -> dict[str, str]:
    """The environment of the stack's api and worker processes."""
    return {
        "VALUEGATE_DATABASE_URL": database_url,
        "VALUEGATE_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "VALUEGATE_TEMPORAL_TASK_QUEUE": task_queue,
        "VALUEGATE_SMTP_HOST": "127.0.0.1",
        "VALUEGATE_SMTP_PORT": str(smtp_port),
        "VALUEGATE_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
    }


@contextlib.contextmanager
def catcher(folder: Path) -> Iterator[int]:
    """The SMTP catcher as `valuegate dev` runs it, a process of its own writing to `folder`
    (a Maildir); its port."""
    port = free_port()
    command = ["-m", "valuegate", "mail-catcher", "--port", str(port), "--dir", str(folder)]
    child = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE)
    assert child.stdout is not None
    child.stdout.readline()  # it says so once it listens
    try:
        yield port
    finally:
        child.terminate()
        child.wait()


async def worker_polling(client: Client, task_queue: str) -> None:
    """Return once a worker polls `task_queue` for workflow tasks."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    for _ in range(600):
        if (await client.workflow_service.describe_task_queue(request)).pollers:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no worker polls {task_queue}")


async def api_ready(http: httpx.AsyncClient) -> None:
    """Return once the API answers its health check."""
    for _ in range(600):
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the API did not become ready")


def peak_memory(pid: int) -> int:
    """The peak resident memory of process `pid` so far, in bytes (Linux's VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def percentile(values: list[float], share: int) -> float:
    """The `share`-th percentile of `values` (nearest rank; NaN when empty)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share / 100 * (len(ordered) - 1)))]
