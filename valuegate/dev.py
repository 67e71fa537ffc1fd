"""`valuegate dev`: the whole stack on embedded defaults, in the foreground, until Ctrl-C.

Temporal dev server (persisted, UI), SQLite (migrated, demo data on first start), the SMTP
catcher, the worker and the web app. Every process it starts, it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from services import migrate
from services.db import create_engine, session_factory
from valuegate import demo
from valuegate.binaries import temporal_cli
from valuegate.mailcatcher import start_catcher
from workflows.search_attributes import ALL_KEYS

LOCALHOST = "127.0.0.1"
CHILD_STOP_SECONDS = 15
# The dev server migrates and opens its SQLite file before it listens: with a few thousand
# finished workflows in it that takes longer than the SDK's default of 5 s.
TEMPORAL_START_TIMEOUT = timedelta(seconds=120)
# A worker that crashes this often within RESTART_WINDOW is not restarted again.
MAX_RESTARTS = 3
RESTART_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class DevPorts:
    api: int = 8000
    temporal: int = 7233
    ui: int = 8233
    smtp: int = 1025


class PortInUse(Exception):
    pass


class StackFailed(Exception):
    """A process of the stack died and could not be brought back; the message names it."""


def check_ports_free(ports: DevPorts) -> None:
    """Raise PortInUse naming every port another process already listens on."""
    busy = []
    for name, port in vars(ports).items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the servers themselves do: a port whose old connections linger in TIME_WAIT
            # is free to listen on; only a listener makes it busy.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOCALHOST, port))
            except OSError:
                busy.append(f"{port} ({name})")
    if busy:
        raise PortInUse(
            "port " + ", ".join(busy) + " is already in use. Stop what runs there or choose "
            "other ports: valuegate dev --api-port/--temporal-port/--ui-port/--smtp-port"
        )


def dev_environment(
    state_dir: Path, ports: DevPorts, database_url: str | None = None
) -> dict[str, str]:
    """The VALUEGATE_ variables every process of the dev stack runs with: the database named by
    `database_url` (VALUEGATE_DATABASE_URL), else a SQLite file in the state folder."""
    state = state_dir
    return {
        "VALUEGATE_ENVIRONMENT": "dev",
        "VALUEGATE_STATE_DIR": str(state),
        "VALUEGATE_DATABASE_URL": database_url or f"sqlite:///{state / 'valuegate.db'}",
        "VALUEGATE_TEMPORAL_ADDRESS": f"{LOCALHOST}:{ports.temporal}",
        "VALUEGATE_TEMPORAL_UI_URL": f"http://localhost:{ports.ui}",
        "VALUEGATE_SMTP_HOST": LOCALHOST,
        "VALUEGATE_SMTP_PORT": str(ports.smtp),
        "VALUEGATE_SMTP_SECURITY": "none",
        "VALUEGATE_MAIL_CATCHER_DIR": str(state / "mail"),
        "VALUEGATE_PUBLIC_BASE_URL": f"http://localhost:{ports.api}",
    }


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the dev command dies without cleaning up.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `valuegate <args>` as a child that dies with this process."""
    return subprocess.Popen(  # noqa: S603 (our own interpreter and fixed arguments)
        [sys.executable, "-m", "valuegate", *args],
        env={**os.environ, **env},
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(CHILD_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_healthy(url: str, api: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if api.poll() is not None:
                raise RuntimeError("the web app exited during start-up (see its output above)")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url, timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the web app did not become healthy at {url} within {within:.0f}s")


def default_workers() -> int:
    """Worker processes for this machine: one per CPU core, at most four.

    A worker process runs its workflows and activities on one event loop, so it uses one core at
    a time; more processes on the same task queue share the work (Temporal hands each task to
    one of them). Four keep PostgreSQL's connections (up to 15 a process) well inside its 100."""
    return max(1, min(os.cpu_count() or 1, 4))


class Supervisor:
    """The stack's worker and api processes: a crashed worker is started again (and said so),
    up to MAX_RESTARTS times a minute; the api, or a worker crashing more often, ends the stack
    with StackFailed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api: subprocess.Popen[bytes] | None = None
        self._restarts: list[float] = []

    @property
    def children(self) -> list[subprocess.Popen[bytes]]:
        return [*self.workers, *([self.api] if self.api else [])]

    def start_workers(self, count: int) -> None:
        self.workers.extend(_spawn(["worker"], self.env) for _ in range(count))

    def start_api(self, port: int) -> subprocess.Popen[bytes]:
        self.api = _spawn(["api", "--port", str(port)], self.env)
        return self.api

    def check(self) -> None:
        """Restart crashed workers; raise StackFailed when that is not the answer."""
        if self.api is not None and (code := self.api.poll()) is not None:
            raise StackFailed(f"the web app (pid {self.api.pid}) exited with code {code}")
        for number, worker in enumerate(self.workers, start=1):
            if (code := worker.poll()) is None:
                continue
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_SECONDS]
            if len(self._restarts) >= MAX_RESTARTS:
                raise StackFailed(
                    f"worker {number} (pid {worker.pid}) exited with code {code}, the "
                    f"{len(self._restarts) + 1}th worker crash within a minute"
                )
            self._restarts.append(now)
            self.workers[number - 1] = _spawn(["worker"], self.env)
            print(
                f"valuegate dev: worker {number} (pid {worker.pid}) exited with code {code}; "
                f"started it again (pid {self.workers[number - 1].pid}).",
                flush=True,
            )


async def run(
    state_dir: Path,
    ports: DevPorts,
    *,
    with_demo: bool = True,
    workers: int | None = None,
    database_url: str | None = None,
) -> None:
    """Start everything, print where to look, and stop everything on SIGINT/SIGTERM.

    `state_dir` is an existing, absolute folder: the SQLite database, Temporal's database and
    the caught mail live there. `workers`: worker processes (default: default_workers()).
    `database_url`: the database to use instead of the SQLite file (e.g. PostgreSQL).
    Raises StackFailed when a process of the stack dies for good."""
    started = time.monotonic()
    check_ports_free(ports)
    env = dev_environment(state_dir, ports, database_url)
    settings = Settings(**{k.removeprefix("VALUEGATE_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    catcher = start_catcher(
        Path(env["VALUEGATE_MAIL_CATCHER_DIR"]), host=LOCALHOST, port=ports.smtp
    )
    supervisor = Supervisor(env)
    temporal: WorkflowEnvironment | None = None
    try:
        temporal = await WorkflowEnvironment.start_local(
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
            ip=LOCALHOST,
            port=ports.temporal,
            ui=True,
            ui_port=ports.ui,
            search_attributes=ALL_KEYS,
            dev_server_existing_path=temporal_cli(),
            dev_server_database_filename=str(state_dir / "temporal.db"),
            dev_server_startup_timeout=TEMPORAL_START_TIMEOUT,
        )
        seeded = 0
        if with_demo:
            engine = create_engine(settings.database_url)
            sessions = session_factory(engine)
            async with sessions() as session:
                needed = not await demo.is_seeded(session)
            if needed:
                seeded = await demo.seed(
                    sessions,
                    temporal=temporal.client,
                    task_queue=settings.temporal_task_queue,
                    today=date.today(),
                )
            await engine.dispose()
        workers = workers or default_workers()
        supervisor.start_workers(workers)
        api = supervisor.start_api(ports.api)
        await _wait_healthy(f"http://{LOCALHOST}:{ports.api}/healthz", api)
        _banner(ports, state_dir, settings, seeded, workers, time.monotonic() - started)
        while not stop.is_set():
            supervisor.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        print("valuegate dev: stopping…", flush=True)
        for child in reversed(supervisor.children):
            await asyncio.to_thread(_stop, child)
        if temporal is not None:
            await temporal.shutdown()
        catcher.stop()
        print("valuegate dev: stopped.", flush=True)


def _banner(
    ports: DevPorts, state_dir: Path, settings: Settings, seeded: int, workers: int, seconds: float
) -> None:
    demo_line = f"seeded {seeded} demo measures" if seeded else "kept the existing data"
    url = settings.database_url
    database = (
        f"SQLite, {url.removeprefix('sqlite:///')}"
        if url.startswith("sqlite")
        else f"PostgreSQL at {url.rsplit('@', 1)[-1]}"  # no password on the screen
    )
    print(
        f"""
ValueGate is running ({demo_line}; ready in {seconds:.1f}s)

  App               http://localhost:{ports.api}/measures
  Dashboard         http://localhost:{ports.api}/dashboard
  Hierarchy         http://localhost:{ports.api}/hierarchy
  Sign in as        {demo.PEOPLE[demo.ADMIN][0]} (admin) or any demo person,
                    password {demo.DEMO_PASSWORD}
  Caught mail       http://localhost:{ports.api}/mail (signed in as an admin)
  REST API docs     http://localhost:{ports.api}/docs
  Health            http://localhost:{ports.api}/healthz
  Temporal UI       http://localhost:{ports.ui}/namespaces/default/workflows
  Temporal gRPC     {LOCALHOST}:{ports.temporal}
  SMTP catcher      {LOCALHOST}:{ports.smtp}
  Worker processes  {workers} (one per CPU core, at most 4; --workers N)
  Database          {database}
  Data              {state_dir} (delete it to start from scratch)

Press Ctrl-C to stop everything.
""",
        flush=True,
    )
