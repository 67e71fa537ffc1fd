"""The worker process: runs measure workflows and their activities until told to stop."""

from __future__ import annotations

import asyncio
import compileall
import logging
import signal
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities.forecasts import ForecastActivities
from activities.importing import ImportActivities
from activities.lifecycle import LifecycleActivities
from activities.notify import NotifyActivities
from config.settings import Settings
from notifications.mailer import Mailer, SmtpConfig
from services.db import create_engine, session_factory
from services.outbox import Delivery
from services.schedules import ensure_forecast_review
from services.temporal_client import connect
from valuegate import loop_check
from workflows.forecast_review import ForecastReviewWorkflow
from workflows.importing import ImportWorkflow
from workflows.measure import MeasureWorkflow

WORKFLOWS = [MeasureWorkflow, ImportWorkflow, ForecastReviewWorkflow]
log = logging.getLogger(__name__)


def compile_workflow_modules() -> bool:
    """Write the bytecode of the workflow modules where it is missing or stale; False where it
    could not be written.

    The workflow sandbox imports these modules afresh for every workflow it starts or takes back
    into its cache. Without their bytecode (PYTHONDONTWRITEBYTECODE, which container images
    often set, stops Python from writing it) each of those imports compiles the source again,
    which costs more than the workflow task itself; a storm of reminders over more workflows
    than the cache holds then spends most of the worker's time compiling. An installed image
    has the bytecode already: pip compiles what it installs."""
    compiled = bool(compileall.compile_dir(Path(workflows.__file__).parent, quiet=2))
    if not compiled:
        log.warning("could not write the workflow modules' bytecode; workflows start slower")
    return compiled


def smtp_config(settings: Settings) -> SmtpConfig:
    """The SMTP settings as the mailer takes them."""
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security.value,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout_seconds,
        ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
    )


def delivery(settings: Settings) -> Delivery:
    """How the worker's emails leave: SMTP, sender, and the signed links' base URL and lifetime."""
    return Delivery(
        mailer=Mailer(smtp_config(settings)),
        sender=settings.mail_from,
        public_url=str(settings.public_base_url),
        link_ttl=timedelta(days=settings.link_ttl_days),
    )


def build_worker(
    client: Client,
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str | None = None,
    emails: Delivery | None = None,
) -> Worker:
    """A worker for every ValueGate workflow and activity on the task queue."""
    queue = task_queue or settings.temporal_task_queue
    emails = emails or delivery(settings)
    notify = NotifyActivities(sessions=sessions, delivery=emails)
    forecasts = ForecastActivities(sessions=sessions, delivery=emails)
    lifecycle = LifecycleActivities(sessions=sessions)
    imports = ImportActivities(
        database_url=settings.database_url,
        sessions=sessions,
        task_queue=queue,
        max_unpacked_bytes=settings.import_max_unpacked_bytes,
    )
    return Worker(
        client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=[
            notify.send_assignment_email,
            notify.send_lifecycle_notice,
            lifecycle.load_snapshot,
            lifecycle.load_policy,
            lifecycle.record_facts,
            lifecycle.find_deputy,
            imports.run_import,
            imports.follow_up_import,
            imports.record_import_failure,
            forecasts.review_forecasts,
        ],
        max_concurrent_activities=settings.worker_activity_slots,
        max_cached_workflows=settings.worker_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_checked(settings: Settings, *, report: Path) -> None:
    """`run`, counting the callbacks that held the worker's loop longer than 100 ms (the loop
    runs in asyncio's debug mode); the count is written to `report` on exit."""
    found = loop_check.watch(asyncio.get_running_loop())
    try:
        await run(settings)
    finally:
        loop_check.write(found, report)


async def run(settings: Settings) -> None:
    """Run a worker until SIGINT or SIGTERM, then finish in-flight activities and exit."""
    await asyncio.to_thread(compile_workflow_modules)
    client = await connect(settings)
    engine = create_engine(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    emails = delivery(settings)
    await ensure_forecast_review(client, task_queue=settings.temporal_task_queue)
    try:
        async with build_worker(
            client, settings=settings, sessions=session_factory(engine), emails=emails
        ):
            await stop.wait()
    finally:
        await emails.mailer.close()
        await engine.dispose()
