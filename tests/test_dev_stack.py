"""`valuegate dev` as a newcomer runs it: starts everything, seeds the demo, answers, stops clean,
and keeps the data for the next start."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from temporalio.client import Client

from tests.link_helpers import sign_in
from tests.support import free_port
from valuegate.dev import default_workers

pytestmark = pytest.mark.slow
START_TIMEOUT = 120


class Stack:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.ports = {name: free_port() for name in ("api", "temporal", "ui", "smtp")}
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, **env: str) -> None:
        """Start `valuegate dev`, with no VALUEGATE_ variable from outside but `env`."""
        self.output = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "valuegate",
                "dev",
                "--state-dir",
                str(self.state_dir),
                "--api-port",
                str(self.ports["api"]),
                "--temporal-port",
                str(self.ports["temporal"]),
                "--ui-port",
                str(self.ports["ui"]),
                "--smtp-port",
                str(self.ports["smtp"]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("VALUEGATE_")} | env,
        )

    def wait_until_ready(self) -> str:
        """Read the output until the banner; return the banner's first line."""
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("ValueGate is running"):
                return line
            assert time.monotonic() < deadline, "".join(self.output)
        raise AssertionError("the stack exited before it was ready:\n" + "".join(self.output))

    def read_until(self, text: str) -> str:
        """Read the output until a line with `text`; return that line."""
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} in the output:\n" + "".join(self.output))

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        remaining, _ = self.process.communicate(timeout=60)
        self.output.append(remaining)
        return self.process.returncode

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path / "state")
    yield stack
    if stack.process and stack.process.poll() is None:
        stack.process.kill()


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def _workflow_count(temporal_port: int) -> int:
    client = await Client.connect(f"127.0.0.1:{temporal_port}")
    for _ in range(100):  # visibility is eventually consistent
        count = (await client.count_workflows("WorkflowType = 'MeasureWorkflow'")).count
        if count >= 30:
            return count
        await asyncio.sleep(0.1)
    return count


async def test_dev_starts_seeds_stops_cleanly_and_keeps_data(stack: Stack) -> None:
    stack.start()
    first_banner = stack.wait_until_ready()
    assert "seeded 30 demo measures" in first_banner
    assert stack.process is not None
    children = _descendants(stack.process.pid)
    assert len(children) >= 3  # temporal dev server, worker, api
    # One worker process per core (at most 4): the stack uses the machine.
    workers = [p for p in children if p.cmdline()[-1:] == ["worker"]]
    assert len(workers) == default_workers() == min(os.cpu_count() or 1, 4)

    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        health = (await http.get("/healthz")).json()
        signed_in = await sign_in(http, "mia.admin@northwind.example", "valuegate-demo")
        assert signed_in.status_code == 303, signed_in.text
        listed = (await http.get("/api/measures", params={"limit": 100})).json()
        page = await http.get("/measures")
    assert health == {"status": "ok", "database": "ok", "temporal": "ok"}
    assert len(listed) == 30
    assert {m["stage"] for m in listed} >= {
        "defined",
        "identified",
        "detailed",
        "decided",
        "implemented",
        "closed",
    }
    assert {m["implementation_status"] for m in listed} >= {"green", "amber", "red"}
    assert {m["potential_status"] for m in listed} >= {"green", "amber", "red"}
    assert "Decommission legacy SAN storage in Frankfurt" in page.text
    assert await _workflow_count(stack.ports["temporal"]) == 30

    assert stack.stop() == 0, "".join(stack.output)
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert all(_port_free(port) for port in stack.ports.values())

    stack.start()
    second_banner = stack.wait_until_ready()
    assert "kept the existing data" in second_banner
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        await sign_in(http, "mia.admin@northwind.example", "valuegate-demo")
        assert len((await http.get("/api/measures", params={"limit": 100})).json()) == 30
    assert await _workflow_count(stack.ports["temporal"]) == 30
    assert stack.stop() == 0


def test_a_busy_port_gets_a_clear_message(stack: Stack) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.ports["api"]))
        squatter.listen()
        stack.start()
        assert stack.process is not None
        output, _ = stack.process.communicate(timeout=60)
    assert stack.process.returncode == 1
    assert f"port {stack.ports['api']} (api) is already in use" in output
    assert "Traceback" not in output


def _workers(stack: Stack) -> list[psutil.Process]:
    assert stack.process is not None
    return [p for p in _descendants(stack.process.pid) if p.cmdline()[-1:] == ["worker"]]


async def test_a_crashed_worker_is_started_again_and_said_so(stack: Stack, tmp_path: Path) -> None:
    # VALUEGATE_DATABASE_URL chooses the dev stack's database (as for PostgreSQL).
    elsewhere = tmp_path / "elsewhere" / "vg.db"
    stack.start(VALUEGATE_DATABASE_URL=f"sqlite:///{elsewhere}")
    stack.wait_until_ready()
    assert stack.read_until("Database").strip() == f"Database          SQLite, {elsewhere}"
    assert elsewhere.exists() and not (stack.state_dir / "valuegate.db").exists()
    victim = _workers(stack)[0]

    victim.kill()  # kill -9: no chance to clean up
    said = stack.read_until("exited with code")
    assert f"worker 1 (pid {victim.pid}) exited with code -9; started it again" in said
    assert len(_workers(stack)) == default_workers()
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
    assert stack.stop() == 0, "".join(stack.output)


def test_a_dead_web_app_stops_the_stack_with_an_error_naming_it(stack: Stack) -> None:
    stack.start()
    stack.wait_until_ready()
    assert stack.process is not None
    api = next(p for p in _descendants(stack.process.pid) if "api" in p.cmdline()[-3:])

    api.kill()
    output, _ = stack.process.communicate(timeout=60)

    assert stack.process.returncode == 1
    assert f"the web app (pid {api.pid}) exited with code -9" in output
    assert "stopped the stack" in output
