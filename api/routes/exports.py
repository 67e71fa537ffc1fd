"""Views out to a spreadsheet: the measure list with the filters it was asked with, and a
measure's figures, as XLSX or CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth import SIGNED_IN, CurrentPerson, visible_measure
from api.deps import SessionDep
from api.params import RowId
from models.measure_query import MeasureQuery
from services import access, briefing, exports, measures, workbooks

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
    found, total = await measures.find(
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
    table = await exports.measure_table(session, rows, filters)
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


def _file(table: exports.Table, fmt: Format, name: str) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        return Response(exports.csv_text(table), media_type="text/csv", headers=disposition)
    return Response(exports.xlsx(table), media_type=workbooks.XLSX_TYPE, headers=disposition)
