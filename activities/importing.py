"""Activities of an import job: run it, then start and tell the measures' lifecycles.

The import itself is long CPU and database work: it runs in a thread of its own, with its own
event loop and database engine, so the worker's loop stays free for workflow tasks, polling and
heartbeats. Meanwhile the activity heartbeats and tells the job's workflow how far it is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities import names
from models.import_report import ImportProgress
from services import import_jobs, importer
from services.db import create_engine, session_factory
from workflows.contracts import ImportJobRef, ImportOutcome
from workflows.importing import ImportWorkflow, workflow_id_for


class ImportActivities:
    """Holds what an import needs: the database (by URL, for the import's own thread), the
    worker's sessions for short steps, and where lifecycles run."""

    def __init__(
        self,
        *,
        database_url: str,
        sessions: async_sessionmaker[AsyncSession],
        task_queue: str,
        max_unpacked_bytes: int,
        progress_every_seconds: float = 1.0,
    ) -> None:
        self._database_url = database_url
        self._sessions = sessions
        self._task_queue = task_queue
        self._max_unpacked = max_unpacked_bytes
        self._progress_every = progress_every_seconds

    @activity.defn(name=names.RUN_IMPORT)
    async def run_import(self, job: ImportJobRef) -> ImportOutcome:
        """Check or apply the job's workbook, keeping its report."""
        progress = importer.Progress()
        work = asyncio.ensure_future(asyncio.to_thread(self._in_own_loop, job.job_id, progress))
        await _while_reporting(
            job,
            work,
            self._progress_every,
            lambda: ImportProgress(step="rows checked", done=progress.done, of=progress.of),
        )
        return work.result()

    def _in_own_loop(self, job_id: int, progress: importer.Progress) -> ImportOutcome:
        async def run() -> ImportOutcome:
            engine = create_engine(self._database_url)
            try:
                return await import_jobs.run(
                    session_factory(engine),
                    job_id=job_id,
                    max_unpacked=self._max_unpacked,
                    progress=progress,
                )
            finally:
                await engine.dispose()

        return asyncio.run(run())

    @activity.defn(name=names.FOLLOW_UP_IMPORT)
    async def follow_up_import(self, job: ImportJobRef) -> None:
        """Start the created measures' lifecycles and tell the changed ones; a retry goes on
        from the last one its heartbeat recorded."""
        details = activity.info().heartbeat_details
        handle = activity.client().get_workflow_handle(workflow_id_for(job.job_id))

        async def done(n: int, of: int) -> None:
            activity.heartbeat(n)
            step = ImportProgress(step="lifecycles started", done=n, of=of)
            await handle.signal(ImportWorkflow.progressed, step)

        await import_jobs.follow_up(
            activity.client(),
            self._sessions,
            job_id=job.job_id,
            task_queue=self._task_queue,
            start_at=int(details[0]) if details else 0,
            done=done,
        )

    @activity.defn(name=names.FAIL_IMPORT)
    async def record_import_failure(self, job: ImportJobRef, reason: str) -> None:
        """The job ends without a report: it says so, and why."""
        await import_jobs.fail(self._sessions, job_id=job.job_id, reason=reason)


async def _while_reporting(
    job: ImportJobRef,
    work: asyncio.Future[ImportOutcome],
    every: float,
    now: Callable[[], ImportProgress],
) -> None:
    """Heartbeat and tell the workflow the progress every `every` seconds until `work` ends."""
    handle = activity.client().get_workflow_handle(workflow_id_for(job.job_id))
    told = None
    while not work.done():
        await asyncio.wait({work}, timeout=every)
        activity.heartbeat()
        progress = now()
        if progress != told and not work.done():
            await handle.signal(ImportWorkflow.progressed, progress)
            told = progress
