"""Imports as jobs of their own: a file that takes longer than the upload waits runs on in the
background (202, and a page that follows its progress), reports how far it is, and finishes
what it started even when the process that applied it stopped before the lifecycles started."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import names
from activities.importing import ImportActivities
from api.app import create_app
from config.settings import Settings
from models.audit import AuditEvent
from models.import_report import ImportProgress
from models.import_sheets import FIGURES
from models.measure import Measure, workflow_id_for
from models.people import Person
from services import import_jobs, importer
from services.db import transaction
from tests.factories import add_person, give_api_token, make_org
from tests.link_helpers import sign_in
from tests.test_imports import XLSX, _count, _openpyxl_file, _organization_of, _sheets, _upload
from workflows.contracts import ImportJobRef, ImportOutcome
from workflows.importing import ImportWorkflow
from workflows.importing import workflow_id_for as import_workflow_id

PASSWORD = "correct horse battery staple"


@pytest_asyncio.fixture(loop_scope="session")
async def impatient(
    settings: Settings,
    engine: AsyncEngine,
    temporal_env: WorkflowEnvironment,
    client: httpx.AsyncClient,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API of an app that waits for no import: every upload answers while it runs."""
    app = create_app(
        settings.model_copy(update={"import_wait_seconds": 0}),
        engine=engine,
        temporal=temporal_env.client,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": client.headers["Authorization"]},
    ) as http:
        yield http


async def test_a_file_that_takes_longer_runs_on_and_is_followed_to_its_report(
    impatient: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    worker: object,
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)

    started = await _upload(impatient, organization, _openpyxl_file(_sheets(org)), apply=True)

    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] == "running" and job["report"] is None
    assert started.headers["location"] == f"/api/imports/{job['id']}"
    await temporal_env.client.get_workflow_handle(import_workflow_id(job["id"])).result()
    followed = (await impatient.get(started.headers["location"])).json()
    assert followed["state"] == "finished" and followed["progress"] is None
    report = followed["report"]
    assert report["applied"] is True and report["job"] == job["id"]
    assert len(report["created_measures"]) == 2
    for measure_id in report["created_measures"]:
        handle = temporal_env.client.get_workflow_handle(workflow_id_for(measure_id))
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING


async def test_the_page_of_a_running_import_shows_its_progress_then_its_report(
    browser: httpx.AsyncClient,
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    await add_person(
        sessions,
        email="ada.admin@acme.example",
        name="Ada Admin",
        password=PASSWORD,
        admin=True,
    )
    # No worker serves this queue yet: the import waits for one, as after a restart.
    queue = f"later-{uuid.uuid4()}"
    patient = settings.model_copy(update={"import_wait_seconds": 0, "temporal_task_queue": queue})
    app = create_app(patient, engine=engine, temporal=temporal_env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=str(browser.base_url)
    ) as person:
        await sign_in(person, "ada.admin@acme.example", PASSWORD)
        page = await person.get("/imports")
        marker = 'name="csrf" value="'
        csrf = page.text[page.text.index(marker) + len(marker) :].split('"', 1)[0]
        wrong = _sheets(org)
        wrong[FIGURES.name][0][4] = "1.234,56"

        posted = await person.post(
            "/imports",
            data={"csrf": csrf, "organization_id": str(organization), "mode": "dry_run"},
            files={"file": ("programme.xlsx", _openpyxl_file(wrong), XLSX)},
        )

        assert posted.status_code == 303
        job_page = posted.headers["location"]
        waiting = await person.get(job_page)
        assert "waiting for a worker" in waiting.text
        assert '<meta http-equiv="refresh"' in waiting.text
        job_id = int(job_page.rsplit("/", 1)[1])
        handle = temporal_env.client.get_workflow_handle(import_workflow_id(job_id))
        real = _import_activities(patient, sessions)
        release = asyncio.Event()

        @activity.defn(name=names.RUN_IMPORT)
        async def run_import_slowly(job: ImportJobRef) -> ImportOutcome:
            """The real import, once it has told how far it is and the test has looked."""
            await handle.signal(
                ImportWorkflow.progressed, ImportProgress(step="rows checked", done=4200, of=10000)
            )
            await release.wait()
            return await real[0](job)

        async with Worker(
            temporal_env.client,
            task_queue=queue,
            workflows=[ImportWorkflow],
            activities=[run_import_slowly, *real[1:]],
        ):
            async for event in handle.fetch_history_events(wait_new_event=True):
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
                    break
            running = await person.get(job_page)
            assert "4,200 of 10,000 rows checked" in running.text
            release.set()
            await handle.result()
        done = await person.get(job_page)
        assert "refresh" not in done.text
        assert "1 problem: nothing was written" in done.text and "1.234,56" in done.text
        marked = await person.get(f"/api/imports/{job_id}/marked")
        assert marked.status_code == 200 and marked.headers["content-type"] == XLSX


async def test_a_running_import_tells_its_workflow_how_far_it_is(
    impatient: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    rows = _sheets(org)
    # Many figure rows (all on the same month: each a duplicate the check names).
    rows[FIGURES.name] += [["EXT-1", "licences", "plan", datetime(2027, 1, 1), 1]] * 20_000
    started = await _upload(impatient, organization, _openpyxl_file(rows))
    job_id = started.json()["id"]

    async with Worker(
        temporal_env.client,
        task_queue=settings.temporal_task_queue,
        workflows=[ImportWorkflow],
        activities=_import_activities(settings, sessions, every=0.01),
    ):
        handle = temporal_env.client.get_workflow_handle(import_workflow_id(job_id))
        await handle.result()
    told = [
        event.workflow_execution_signaled_event_attributes.signal_name
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert told and set(told) == {"progressed"}
    shown = await (await handle.describe()).memo_value("progress", type_hint=ImportProgress)
    assert shown.step == "finished"


async def test_an_applied_job_is_not_applied_again_and_its_lifecycles_still_start(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    worker: object,
) -> None:
    """As after a crash between the import's commit and the start of the lifecycles: the
    job's workflow finds the report kept with the import and only starts what is missing."""
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    async with transaction(sessions) as session:
        person = Person(email="ida.importer@acme.example", name="Ida Importer", is_admin=True)
        session.add(person)
        await session.flush()
        job = await import_jobs.create(
            session,
            organization_id=organization,
            person=person,
            file_name="programme.xlsx",
            content=_openpyxl_file(_sheets(org)),
            apply=True,
        )
    outcome = await import_jobs.run(
        sessions, job_id=job.id or 0, max_unpacked=10**8, progress=importer.Progress()
    )
    assert outcome.applied and outcome.follow_ups == 2
    imported = await _count(sessions, AuditEvent, AuditEvent.channel == "import")

    handle = await import_jobs.start(
        temporal_env.client, job_id=job.id or 0, task_queue=settings.temporal_task_queue
    )
    again = await handle.result()

    assert again.applied and again.follow_ups == 2
    assert await _count(sessions, Measure) == 2
    assert await _count(sessions, AuditEvent, AuditEvent.channel == "import") == imported
    async with sessions() as session:
        kept = await import_jobs.get(session, job_id=job.id or 0, person=person)
    report = import_jobs.report_of(kept)
    assert kept.finished_at is not None and report is not None
    for measure_id in report.created_measures:
        described = await temporal_env.client.get_workflow_handle(
            workflow_id_for(measure_id)
        ).describe()
        assert described.status is WorkflowExecutionStatus.RUNNING


async def test_another_persons_import_is_not_found(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    worker: object,
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    mine = await _upload(client, organization, _openpyxl_file(_sheets(org)))
    job_id = mine.json()["job"]
    async with transaction(sessions) as session:
        other = Person(email="pat.manager@acme.example", name="Pat Manager")
        session.add(other)
    token = await give_api_token(sessions, other)

    theirs = await client.get(
        f"/api/imports/{job_id}", headers={"Authorization": f"Bearer {token}"}
    )

    assert theirs.status_code == 404
    assert (await client.get(f"/api/imports/{job_id}")).json()["state"] == "finished"


def _import_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], every: float = 1.0
) -> list[Callable[..., Any]]:
    imports = ImportActivities(
        database_url=settings.database_url,
        sessions=sessions,
        task_queue=settings.temporal_task_queue,
        max_unpacked_bytes=settings.import_max_unpacked_bytes,
        progress_every_seconds=every,
    )
    return [imports.run_import, imports.follow_up_import, imports.record_import_failure]


async def test_the_marked_copy_upload_is_not_taken_for_an_import_job(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/imports/marked")

    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/imports/{job_id}" in paths and "/api/imports/{job_id}/marked" in paths
