"""Importing a workbook: the template to fill in, and the upload that checks it (a dry run, which
writes nothing) or applies it (all or nothing). Over REST for scripts, and as the Import page."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import col, select
from starlette.datastructures import UploadFile as StarletteUpload
from temporalio.service import RPCError

from api.auth import SESSION_COOKIE, SIGNED_IN, CurrentPerson, PageViewer
from api.csrf import FormGuard
from api.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.params import RowId
from api.templating import templates
from models.import_job import ImportJob
from models.import_report import ImportJobPublic, ImportReport
from models.organization import Organization
from models.people import Person
from services import access, import_jobs, import_template, workbooks
from services.db import transaction
from services.errors import Forbidden, NotFound
from services.lifecycle import LifecycleUnavailable

router = APIRouter(responses=SIGNED_IN, tags=["imports"])
pages = APIRouter(include_in_schema=False)


REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "Admins and portfolio managers only"},
    404: {"description": "No such organization"},
}
XLSX = {"content": {workbooks.XLSX_TYPE: {}}, "description": "The workbook"}


@router.get(
    "/api/organizations/{organization_id}/import-template",
    response_class=Response,
    responses={200: XLSX, **REFUSED},
    summary="The import workbook to fill in (with prefill=true: what the organization has)",
)
async def template(
    organization_id: RowId,
    person: CurrentPerson,
    session: SessionDep,
    prefill: Annotated[bool, Query(description="Fill in what the organization has.")] = False,
) -> Response:
    await _may_import(session, person)
    content = await import_template.build(session, organization_id=organization_id, prefill=prefill)
    return Response(
        content,
        media_type=workbooks.XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="valuegate-import.xlsx"'},
    )


RUNNING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ImportJobPublic,
        "description": "The import runs on in the background: follow it at the Location given",
    }
}


@router.post(
    "/api/imports",
    response_model=ImportReport,
    responses={
        422: {
            "description": "The file cannot be read, or applying found problems (nothing "
            "was written); the report lists each with its sheet, row and column"
        },
        413: {"description": "The file is larger than the import limit"},
        **RUNNING,
        **REFUSED,
    },
    summary="Check a workbook (dry run, the default) or apply it",
)
async def upload(
    organization_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    file: Annotated[UploadFile, File(description="The .xlsx workbook")],
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    apply: Annotated[bool, Query(description="Write it (all or nothing).")] = False,
) -> Any:
    """The import runs as a job of its own (it survives a restart). The answer waits for it
    up to VALUEGATE_IMPORT_WAIT_SECONDS; a larger file answers 202 and runs on."""
    job = await _run(file, organization_id, person, sessions, temporal, settings, apply)
    if job.report is None:
        return _running(job)
    return _reported(job.report, apply=apply)


@router.post(
    "/api/imports/marked",
    response_class=Response,
    responses={
        200: XLSX,
        413: {"description": "The file is larger than the import limit"},
        422: {"description": "The file cannot be read"},
        **RUNNING,
        **REFUSED,
    },
    summary="The workbook back with each problem a dry run finds marked on its cell",
)
async def marked_copy(
    organization_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    file: Annotated[UploadFile, File(description="The .xlsx workbook")],
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    job = await _run(file, organization_id, person, sessions, temporal, settings, False)
    if job.report is None:
        return _running(job)
    return await _marked_or_refused(sessions, job)


@router.get(
    "/api/imports/{job_id:int}",
    response_model=ImportJobPublic,
    responses={404: {"description": "No such import of yours"}},
    summary="An import: its progress while it runs, then its report",
)
async def import_job(
    job_id: RowId, person: CurrentPerson, session: SessionDep, temporal: TemporalDep
) -> ImportJobPublic:
    return await _public(session, temporal, job_id, person)


@router.get(
    "/api/imports/{job_id:int}/marked",
    response_class=Response,
    responses={
        200: XLSX,
        404: {"description": "No such import of yours"},
        409: {"description": "The import has not finished"},
        422: {"description": "The file cannot be read"},
    },
    summary="A finished import's workbook with each problem marked on its cell",
)
async def job_marked_copy(job_id: RowId, person: CurrentPerson, sessions: SessionsDep) -> Response:
    async with sessions() as session:
        job = await import_jobs.get(session, job_id=job_id, person=person)
    if job.report is None:
        return JSONResponse(status_code=409, content={"detail": "the import has not finished"})
    return await _marked_or_refused(sessions, job)


@pages.get("/imports", response_class=HTMLResponse)
async def import_page(request: Request, viewer: PageViewer, session: SessionDep) -> HTMLResponse:
    return await _page(request, session, viewer)


@pages.post("/imports", response_model=None)
async def import_from_page(
    request: Request,
    viewer: PageViewer,
    sessions: SessionsDep,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    """The upload form: check the file, or apply it (the report shows on the page), or take it
    back with its problems marked on their cells. A file still running after the wait goes on
    in the background: its own page follows it."""
    form = await request.form()
    guard: FormGuard = request.app.state.form_guard
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if (problem := guard.session_problem(request, cookie, str(form.get("csrf", "")))) is not None:
        raise Forbidden(problem)
    await _may_import(session, viewer)
    upload_file = form.get("file")
    chosen = str(form.get("organization_id", ""))
    apply = form.get("mode") == "apply"
    if not isinstance(upload_file, StarletteUpload) or not chosen.isdigit():
        message = "Choose the organization and a file."
        return await _page(request, session, viewer, error=message, status=422)
    job = await _run(upload_file, int(chosen), viewer, sessions, temporal, settings, apply)
    report = import_jobs.report_of(job)
    if report is None:
        return RedirectResponse(f"/imports/{job.id}", status_code=303)
    if form.get("mode") == "marked" and not report.unreadable:
        return await _marked_or_refused(sessions, job)
    status = 422 if report.problems else 200
    return await _page(request, session, viewer, report=report, chosen=chosen, status=status)


@pages.get("/imports/{job_id}", response_class=HTMLResponse)
async def import_job_page(
    request: Request, job_id: RowId, viewer: PageViewer, session: SessionDep, temporal: TemporalDep
) -> HTMLResponse:
    """One import: its progress while it runs (the page reloads itself), then its report."""
    job = await _public(session, temporal, job_id, viewer)
    return await _page(request, session, viewer, report=job.report, job=job)


async def _run(
    upload_file: UploadFile | StarletteUpload,
    organization_id: int,
    person: Person,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    apply: bool,
) -> ImportJob:
    """Keep the file as a new job, start the job's workflow, and wait for it a while. A file
    that is no workbook at all is answered at once, its job finished with that report."""
    content = await upload_file.read()
    try:
        refused = None
        workbooks.opened(content, max_uncompressed=settings.import_max_unpacked_bytes)
    except workbooks.WorkbookRefused as error:
        refused = import_jobs.unreadable_report(str(error))
    async with transaction(sessions) as session:
        await _may_import(session, person)
        if await session.get(Organization, organization_id) is None:
            raise NotFound(f"organization {organization_id}")
        job = await import_jobs.create(
            session,
            organization_id=organization_id,
            person=person,
            file_name=upload_file.filename or "",
            content=content,
            apply=apply,
            refused=refused,
        )
        if refused is not None:
            return job
        # Started inside the transaction: a job whose workflow cannot start is not kept. Its
        # first attempt may run before the commit; it finds no job then, and is retried.
        try:
            await import_jobs.start(
                temporal, job_id=job.id or 0, task_queue=settings.temporal_task_queue
            )
        except RPCError as error:
            raise LifecycleUnavailable(f"Temporal cannot be reached: {error.message}") from error
    await import_jobs.wait(temporal, job_id=job.id or 0, seconds=settings.import_wait_seconds)
    async with sessions() as session:
        found = await session.get(ImportJob, job.id)
    assert found is not None
    return found


def _reported(report_data: dict[str, Any], *, apply: bool) -> JSONResponse:
    report = ImportReport.model_validate(report_data)
    status = 422 if report.unreadable or (apply and not report.applied) else 200
    return JSONResponse(status_code=status, content=report.model_dump(mode="json"))


def _running(job: ImportJob) -> JSONResponse:
    shown = import_jobs.public(job)
    return JSONResponse(
        status_code=202 if shown.state == "running" else 500,
        content=shown.model_dump(mode="json"),
        headers={"Location": f"/api/imports/{job.id}"},
    )


async def _public(
    session: SessionDep, temporal: TemporalDep, job_id: int, person: Person
) -> ImportJobPublic:
    job = await import_jobs.get(session, job_id=job_id, person=person)
    progress = None
    if job.finished_at is None:
        progress = await import_jobs.progress(temporal, job_id=job_id)
    return import_jobs.public(job, progress)


async def _marked_or_refused(sessions: SessionsDep, job: ImportJob) -> Response:
    report = import_jobs.report_of(job)
    assert report is not None
    if report.unreadable:
        return JSONResponse(status_code=422, content=report.model_dump(mode="json"))
    async with sessions() as session:
        content = await import_jobs.content_of(session, job=job)
    copy = await asyncio.to_thread(workbooks.marked, content, report.problems)
    return Response(
        copy,
        media_type=workbooks.XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="checked.xlsx"'},
    )


async def _may_import(session: SessionDep, person: Person) -> None:
    if not await access.manages_any_portfolio(session, person):
        raise Forbidden("only admins and portfolio managers import")


async def _page(
    request: Request,
    session: SessionDep,
    viewer: Person,
    *,
    report: ImportReport | None = None,
    job: ImportJobPublic | None = None,
    chosen: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    organizations = (await session.exec(select(Organization).order_by(col(Organization.id)))).all()
    return templates.TemplateResponse(
        request,
        "imports.html",
        {
            "organizations": organizations,
            "report": report,
            "job": job,
            "chosen": chosen,
            "error": error,
        },
        status_code=status,
    )
