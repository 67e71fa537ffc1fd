"""Server-rendered pages for people: the measure list and a measure's page."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.auth import PageViewer
from api.deps import SessionDep, SettingsDep
from api.templating import templates
from models.measure import workflow_id_for
from services import measures

router = APIRouter(include_in_schema=False)


@router.get("/measures", response_class=HTMLResponse)
async def measure_list(request: Request, viewer: PageViewer, session: SessionDep) -> HTMLResponse:
    today = date.today()
    rows = [
        (m, await measures.facts(session, measure=m, today=today))
        for m in await measures.list_all(session, limit=500)
    ]
    return templates.TemplateResponse(request, "measures.html", {"rows": rows})


@router.get("/measures/{measure_id}", response_class=HTMLResponse)
async def measure_page(
    request: Request,
    measure_id: int,
    viewer: PageViewer,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    measure = await measures.get(session, measure_id=measure_id)
    facts = await measures.facts(session, measure=measure, today=date.today())
    ui = str(settings.temporal_ui_url).rstrip("/")
    workflow_url = (
        f"{ui}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id_for(measure_id)}"
    )
    return templates.TemplateResponse(
        request,
        "measure.html",
        {"measure": measure, "facts": facts, "workflow_url": workflow_url},
    )
