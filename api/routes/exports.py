"""Views out to a spreadsheet: the measure list with the filters it was asked with, a measure's
figures, the dashboard and a hierarchy node's roll-up, as XLSX or CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import Field

from api.auth import SIGNED_IN, CurrentPerson, visible_measure
from api.deps import SessionDep
from api.params import RowId
from api.routes.dashboard import DashboardQuery, build
from models.measure_query import MeasureQuery
from services import access, briefing, exports, hierarchy, measures, workbooks

router = APIRouter(responses=SIGNED_IN, prefix="/api/exports", tags=["exports"])
Format = Literal["xlsx", "csv"]
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {workbooks.XLSX_TYPE: {}, "text/csv": {}},
        "description": "The view as a workbook (money as numbers in their currency's format, "
        "dates as dates, the filters on top) or as CSV",
    }
}


@router.get(
    "/measures.{fmt}",
    response_class=Response,
    responses={**FILES, 422: {"description": "An unknown parameter, or a value it does not take"}},
    summary="The measure list, with the same search and filters as GET /api/measures",
)
async def measure_list(
    fmt: Format,
    person: CurrentPerson,
    session: SessionDep,
    query: Annotated[MeasureQuery, Query()],
) -> Response:
    everything = query.model_copy(update={"limit": exports.EXPORT_LIMIT, "offset": 0})
    found, total, planned = await measures.find(
        session,
        query=everything,
        where=access.visible_measures(person),
        person_id=person.id or 0,
        today=date.today(),
    )
    chosen = query.model_dump(mode="json", exclude_defaults=True, exclude={"limit", "offset"})
    filters = [
        "ValueGate: measures",
        "Filters: " + ("; ".join(f"{k} = {v}" for k, v in chosen.items()) or "none"),
        f"{total} measures" + (f", the first {len(found)}" if total > len(found) else ""),
    ]
    rows = await measures.with_status(session, found, today=date.today())
    table = await exports.measure_table(session, rows, filters, planned)
    return _file(table, fmt, "measures")


@router.get(
    "/measures/{measure_id}/figures.{fmt}",
    response_class=Response,
    responses={**FILES, 404: {"description": "No such measure"}},
    dependencies=[Depends(visible_measure)],
    summary="A measure's figures: each impact line and scenario by month",
)
async def measure_figures(measure_id: RowId, fmt: Format, session: SessionDep) -> Response:
    about = await briefing.load(session, measure_id=measure_id)
    return _file(exports.figures_table(about), fmt, f"M-{measure_id}-figures")


class DashboardFile(DashboardQuery):
    """The dashboard's filters, and which view a CSV file holds."""

    view: Literal["totals", "pipeline", "status-matrix", "by-month"] = Field(
        default="totals", description="The view a CSV file holds (XLSX holds them all)."
    )


@router.get(
    "/dashboard.{fmt}",
    response_class=Response,
    responses={
        **FILES,
        404: {"description": "No such organization (or not yours to see)"},
        422: {"description": "An unknown parameter, or a value it does not take"},
    },
    summary="The dashboard with the same filters as GET /api/dashboard: XLSX has a sheet per "
    "view; CSV is the one view named",
)
async def dashboard_file(
    fmt: Format,
    chosen: Annotated[DashboardFile, Query()],
    person: CurrentPerson,
    session: SessionDep,
) -> Response:
    view = chosen.view
    narrowed = DashboardQuery.model_validate(chosen.model_dump(exclude={"view"}))
    organization, board = await build(session, person, narrowed)
    shown = narrowed.model_dump(mode="json", exclude_none=True, exclude={"organization_id"})
    filters = [
        f"ValueGate: dashboard of {organization.name if organization else 'no organization'}",
        "Filters: " + ("; ".join(f"{k} = {v}" for k, v in shown.items()) or "none"),
    ]
    tables = exports.dashboard_tables(board, filters)
    if fmt == "csv":
        table = next(t for t in tables if t.title.lower().replace(" ", "-") == view)
        return _file(table, fmt, f"dashboard-{view}")
    return _file(tables, fmt, "dashboard")


LevelName = Literal["organization", "portfolio", "program", "project", "package"]


@router.get(
    "/{level}/{node_id}/rollup.{fmt}",
    response_class=Response,
    responses={**FILES, 404: {"description": "No such node (or not yours to see)"}},
    summary="A hierarchy node and the nodes right below it, each rolled up",
)
async def rollup_file(
    level: LevelName, node_id: RowId, fmt: Format, person: CurrentPerson, session: SessionDep
) -> Response:
    view = await hierarchy.view(session, hierarchy.LEVELS[level], node_id, person, date.today())
    return _file(exports.rollup_table(view), fmt, f"{level}-{node_id}-rollup")


def _file(tables: exports.Table | list[exports.Table], fmt: Format, name: str) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if isinstance(tables, exports.Table):
        tables = [tables]
    if fmt == "csv":
        text = exports.csv_text(tables[0])
        return Response(text, media_type="text/csv", headers=disposition)
    return Response(exports.xlsx(*tables), media_type=workbooks.XLSX_TYPE, headers=disposition)
