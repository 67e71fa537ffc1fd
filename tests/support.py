"""Test helpers: fresh databases on SQLite or PostgreSQL, and a capturing SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from temporalio.client import WorkflowHandle

from services.db import sync_url

TEST_DATABASE_URL_VARIABLE = "VALUEGATE_TEST_DATABASE_URL"


def _ports_no_client_is_given() -> range:
    """Ports below the kernel's ephemeral range: never the local end of an outgoing connection."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10_000, low)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now, which stays free until a server listens on it.

    A port bound to 0 comes from the ephemeral range, and any client socket opened before the
    server starts — the Temporal dev server's own among them — may be given it. So a port below
    that range, not handed out before by this process.
    """
    candidates = _ports_no_client_is_given()
    for _ in range(1_000):
        port = secrets.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {candidates}")


@contextlib.contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A new, empty database for the duration: a SQLite file in `folder`, or — when
    VALUEGATE_TEST_DATABASE_URL names a PostgreSQL server — a new database created there."""
    server = os.environ.get(TEST_DATABASE_URL_VARIABLE)
    if not server:
        yield f"sqlite:///{folder / f'valuegate-{secrets.token_hex(4)}.db'}"
        return
    name = f"valuegate_test_{secrets.token_hex(6)}"
    admin = create_engine(sync_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class CapturingSmtp:
    """A real SMTP server (aiosmtpd) that keeps what it receives and can refuse on demand."""

    def __init__(self, **options: Any) -> None:
        """`options` go to aiosmtpd's Controller (e.g. tls_context, ssl_context, authenticator)."""
        self.messages: list[EmailMessage] = []
        self.refuse = False
        self.refusals = 0
        self.greetings = 0  # EHLOs: one per connection
        self.closing = False  # answer the next MAIL FROM with 421, as a relay that timed out
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived = asyncio.Condition()
        self.port = free_port()
        self._options = options
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.greetings += 1
        return responses

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.closing:
            self.closing = False
            return "421 4.4.2 timeout exceeded, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        assert self._loop is not None
        if self.refuse:
            self._loop.call_soon_threadsafe(self._refused)
            return "451 Try again later"
        message = BytesParser(policy=email.policy.default).parsebytes(
            envelope.original_content or b""
        )
        self._loop.call_soon_threadsafe(self._store, message)
        return "250 OK"

    def _refused(self) -> None:
        self.refusals += 1
        self._notify()

    def _store(self, message: EmailMessage) -> None:
        self.messages.append(message)
        self._notify()

    def _notify(self) -> None:

        async def notify() -> None:
            async with self._arrived:
                self._arrived.notify_all()

        asyncio.ensure_future(notify())  # noqa: RUF006

    async def wait_for(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        """Wait until at least `count` messages have arrived; return them all."""
        await self.until(lambda: len(self.messages) >= count, timeout)
        return list(self.messages)

    async def wait_for_refusals(self, count: int, timeout: float = 20) -> None:
        """Wait until the server has refused at least `count` deliveries."""
        await self.until(lambda: self.refusals >= count, timeout)

    async def until(self, predicate: Callable[[], bool], timeout: float) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(predicate), timeout)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def restart(self) -> None:
        """Stop, dropping every open connection, and listen again on the same port."""
        self._controller.stop()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **self._options)
        self._controller.start()


@contextlib.asynccontextmanager
async def terminated_after(handles: list[WorkflowHandle]) -> AsyncIterator[list[WorkflowHandle]]:  # type: ignore[type-arg]
    """Terminate the workflows collected in the list when the block ends. On the time-skipping
    server a workflow left waiting for a worker that is gone stops time for every later test."""
    try:
        yield handles
    finally:
        for handle in handles:
            with contextlib.suppress(Exception):
                await handle.terminate("test finished")


@asynccontextmanager
async def served(app: Any, port: int, **options: Any) -> AsyncIterator[str]:
    """`app` served over real HTTP by uvicorn on `port` (with uvicorn `options`); its URL."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **options
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    while not running.started:
        if task.done():
            task.result()  # raise what stopped it
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        await task
