"""Importing a workbook: the template to fill in, and the upload that checks it (a dry run, which
writes nothing) or applies it (all or nothing). Over REST for scripts, and as the Import page."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlmodel import col, select
from starlette.datastructures import UploadFile as StarletteUpload

from api.auth import SESSION_COOKIE, SIGNED_IN, CurrentPerson, PageViewer
from api.csrf import FormGuard
from api.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.params import RowId
from api.templating import templates
from models.import_sheets import Problem
from models.organization import Organization
from models.people import Person
from services import access, import_template, importer, workbooks
from services.errors import Forbidden

router = APIRouter(responses=SIGNED_IN, tags=["imports"])
pages = APIRouter(include_in_schema=False)


class ImportReport(BaseModel):
    """What an import found and did. `applied` is false for a dry run, and whenever a problem
    was found: then nothing was written."""

    applied: bool
    rows: int
    counts: dict[str, dict[str, int]]
    problems: list[Problem]
    created_measures: list[int]
    changed_measures: list[int]

    @property
    def unreadable(self) -> bool:
        """The file as a whole could not be read (not a workbook, damaged, too large inside)."""
        return any(p.sheet == FILE for p in self.problems)


FILE = "(file)"  # a problem of the whole file, not of a sheet
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


@router.post(
    "/api/imports",
    response_model=ImportReport,
    responses={
        422: {
            "description": "The file cannot be read, or applying found problems (nothing "
            "was written); the report lists each with its sheet, row and column"
        },
        413: {"description": "The file is larger than the import limit"},
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
    async with sessions() as session:
        await _may_import(session, person)
    report = await _import(
        await file.read(), organization_id, person, sessions, temporal, settings, apply
    )
    status = 422 if report.unreadable or (apply and not report.applied) else 200
    return JSONResponse(status_code=status, content=report.model_dump(mode="json"))


@router.post(
    "/api/imports/marked",
    response_class=Response,
    responses={
        200: XLSX,
        413: {"description": "The file is larger than the import limit"},
        422: {"description": "The file cannot be read"},
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
    async with sessions() as session:
        await _may_import(session, person)
    content = await file.read()
    report = await _import(content, organization_id, person, sessions, temporal, settings, False)
    if report.unreadable:
        return JSONResponse(status_code=422, content=report.model_dump(mode="json"))
    return await _marked(content, report)


async def _marked(content: bytes, report: ImportReport) -> Response:
    copy = await asyncio.to_thread(workbooks.marked, content, report.problems)
    return Response(
        copy,
        media_type=workbooks.XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="checked.xlsx"'},
    )


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
    back with its problems marked on their cells."""
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
    content = await upload_file.read()
    report = await _import(content, int(chosen), viewer, sessions, temporal, settings, apply)
    if form.get("mode") == "marked" and not report.unreadable:
        return await _marked(content, report)
    status = 422 if report.problems else 200
    return await _page(request, session, viewer, report=report, chosen=chosen, status=status)


async def _import(
    content: bytes,
    organization_id: int,
    person: Person,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    apply: bool,
) -> ImportReport:
    try:
        # Unpacking and parsing a workbook is CPU work: off the event loop.
        rows = await asyncio.to_thread(
            workbooks.read, content, max_uncompressed=settings.import_max_unpacked_bytes
        )
    except workbooks.WorkbookRefused as error:
        problem = Problem(sheet=FILE, message=str(error))
        return ImportReport(
            applied=False, rows=0, counts={}, problems=[problem], created_measures=[],
            changed_measures=[],
        )  # fmt: skip
    report = await importer.run(
        sessions, organization_id=organization_id, rows=rows, person=person, apply=apply
    )
    if report.applied:
        await importer.follow_up(temporal, sessions, report, settings.temporal_task_queue)
    return ImportReport(
        applied=report.applied,
        rows=report.rows,
        counts=report.summary(),
        problems=report.problems,
        created_measures=report.created_measures,
        changed_measures=report.changed_measures,
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
            "chosen": chosen,
            "error": error,
        },
        status_code=status,
    )
