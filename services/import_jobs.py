"""Import jobs: an uploaded workbook kept with who asked for a dry run or for applying it, run
by the job's workflow (`import-<id>`), its report stored in the same transaction as what it
applied, then the lifecycles of the measures it created started and the changed ones told.

Every step can run again after a restart: a job with a report is not imported twice, and
starting a lifecycle that runs already joins it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from models.columns import utcnow
from models.import_job import ImportFile, ImportJob
from models.import_report import FILE, ImportJobPublic, ImportProgress, ImportReport
from models.import_sheets import Problem
from models.people import Person
from services import importer, lifecycle, measures, workbooks
from services.db import transaction
from services.errors import NotFound
from workflows.contracts import ImportJobRef, ImportOutcome
from workflows.importing import PROGRESS, ImportWorkflow, workflow_id_for


async def create(
    session: AsyncSession,
    *,
    organization_id: int,
    person: Person,
    file_name: str,
    content: bytes,
    apply: bool,
    refused: ImportReport | None = None,
) -> ImportJob:
    """A new job holding the file, inside the caller's transaction; with `refused` (the file
    is no workbook at all), a finished one with that report."""
    job = ImportJob(
        organization_id=organization_id,
        person_id=person.id or 0,
        file_name=(file_name or "workbook.xlsx")[:255],
        size_bytes=len(content),
        apply=apply,
    )
    session.add(job)
    await session.flush()
    session.add(ImportFile(job_id=job.id or 0, content=content))
    if refused is not None:
        await _keep(session, job.id or 0, refused.model_copy(update={"job": job.id}))
    return job


async def get(session: AsyncSession, *, job_id: int, person: Person) -> ImportJob:
    """The job, for the person who asked for it or an admin; NotFound for anyone else."""
    job = await session.get(ImportJob, job_id)
    if job is None or not (person.is_admin or job.person_id == person.id):
        raise NotFound(f"import {job_id}")
    return job


async def content_of(session: AsyncSession, *, job: ImportJob) -> bytes:
    """The workbook as it was uploaded."""
    found = await session.get(ImportFile, job.id)
    if found is None:
        raise NotFound(f"the file of import {job.id}")
    return found.content


def report_of(job: ImportJob) -> ImportReport | None:
    return ImportReport.model_validate(job.report) if job.report is not None else None


def public(job: ImportJob, progress: ImportProgress | None = None) -> ImportJobPublic:
    """The job as the API and the pages show it."""
    state = "failed" if job.failure else "finished" if job.finished_at else "running"
    return ImportJobPublic(
        id=job.id or 0,
        organization_id=job.organization_id,
        file_name=job.file_name,
        apply=job.apply,
        state=state,
        progress=progress if state == "running" else None,
        report=report_of(job),
        failure=job.failure,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


# --- starting and following a job (the API, the pages, the command line) ---------------------


async def start(client: Client, *, job_id: int, task_queue: str) -> WorkflowHandle[Any, Any]:
    """Start the job's workflow; starting it again joins the one that runs."""
    return await client.start_workflow(
        ImportWorkflow.run,
        ImportJobRef(job_id=job_id),
        id=workflow_id_for(job_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"import {job_id}",
    )


async def wait(client: Client, *, job_id: int, seconds: float) -> bool:
    """Whether the job's workflow ended within `seconds` (failed counts as ended; a Temporal
    that stops answering meanwhile leaves the job running, to be followed later)."""
    handle = client.get_workflow_handle(workflow_id_for(job_id))
    try:
        await asyncio.wait_for(handle.result(), timeout=seconds)
    except (TimeoutError, RPCError):
        return False
    except WorkflowFailureError:
        return True
    return True


async def progress(client: Client, *, job_id: int) -> ImportProgress | None:
    """How far the running job is, as its workflow keeps it; None if Temporal cannot say."""
    try:
        described = await client.get_workflow_handle(workflow_id_for(job_id)).describe()
        return await described.memo_value(PROGRESS, ImportProgress(), type_hint=ImportProgress)
    except RPCError:
        return None


# --- running a job (the worker's activities) -------------------------------------------------


async def run(
    sessions: async_sessionmaker[AsyncSession],
    *,
    job_id: int,
    max_unpacked: int,
    progress: importer.Progress,
) -> ImportOutcome:
    """Check or apply the job's file and keep its report; a job that has a report already (a
    retried run after a restart) is not imported again."""
    async with sessions() as session:
        job = await session.get(ImportJob, job_id)
        if job is None:
            raise NotFound(f"import {job_id}")
        if job.report is not None:
            return _outcome(report_of(job))
        person = await session.get(Person, job.person_id)
        content = await content_of(session, job=job)
    assert person is not None

    async def keep(session: AsyncSession, report: importer.Report) -> None:
        await _keep(session, job_id, report.public(job=job_id))

    try:
        rows = workbooks.read(content, max_uncompressed=max_unpacked)
    except workbooks.WorkbookRefused as error:
        unreadable = unreadable_report(str(error), job=job_id)
        async with transaction(sessions) as session:
            await _keep(session, job_id, unreadable)
        return _outcome(unreadable)
    del content
    progress.of = rows.count
    report = await importer.run(
        sessions,
        organization_id=job.organization_id,
        rows=rows,
        person=person,
        apply=job.apply,
        progress=progress,
        keep=keep,
    )
    return _outcome(report.public(job=job_id))


def unreadable_report(reason: str, *, job: int | None = None) -> ImportReport:
    """The report of a file that is not a workbook the import may open."""
    return ImportReport(
        applied=False,
        rows=0,
        counts={},
        problems=[Problem(sheet=FILE, message=reason)],
        created_measures=[],
        changed_measures=[],
        job=job,
    )


async def _keep(session: AsyncSession, job_id: int, report: ImportReport) -> None:
    job = await session.get(ImportJob, job_id, with_for_update=True)
    assert job is not None
    job.report = report.model_dump(mode="json")
    if not _outcome(report).follow_ups:
        job.finished_at = utcnow()
    session.add(job)


def _outcome(report: ImportReport | None) -> ImportOutcome:
    assert report is not None
    if not report.applied:
        return ImportOutcome(applied=False)
    follow_ups = len(report.created_measures) + len(report.changed_measures)
    return ImportOutcome(applied=True, follow_ups=follow_ups)


FOLLOW_UP_BATCH = 50


async def follow_up(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    *,
    job_id: int,
    task_queue: str,
    start_at: int = 0,
    done: Callable[[int, int], Awaitable[None]] | None = None,
) -> None:
    """Start the lifecycles of the measures the job created (idempotently: a measure's
    workflow id is its own) and tell the changed ones to read their data again, from the
    `start_at`-th on, `FOLLOW_UP_BATCH` at a time; `done(n, of)` after each batch. Then the
    job is finished."""
    async with sessions() as session:
        job = await session.get(ImportJob, job_id)
        if job is None:
            raise NotFound(f"import {job_id}")
        report = report_of(job)
    assert report is not None
    todo = [*report.created_measures, *report.changed_measures]
    created = set(report.created_measures)
    for start in range(start_at, len(todo), FOLLOW_UP_BATCH):
        batch = todo[start : start + FOLLOW_UP_BATCH]
        # A short read per batch: the worker's connections serve the new lifecycles meanwhile.
        async with sessions() as session:
            facts = [
                await measures.facts(
                    session,
                    measure=await measures.get(session, measure_id=measure_id),
                    today=date.today(),
                )
                for measure_id in batch
                if measure_id in created
            ]
        await asyncio.gather(
            *(lifecycle.start(client, facts=f, task_queue=task_queue) for f in facts),
            *(lifecycle.figures_changed(client, m) for m in batch if m not in created),
        )
        if done is not None:
            await done(start + len(batch), len(todo))
    async with transaction(sessions) as session:
        job = await session.get(ImportJob, job_id, with_for_update=True)
        assert job is not None
        job.finished_at = job.finished_at or utcnow()
        session.add(job)


async def fail(sessions: async_sessionmaker[AsyncSession], *, job_id: int, reason: str) -> None:
    """The job could not be run: it says so, and why."""
    async with transaction(sessions) as session:
        job = await session.get(ImportJob, job_id, with_for_update=True)
        if job is None:
            return
        job.failure = reason[:2000]
        job.finished_at = utcnow()
        session.add(job)
