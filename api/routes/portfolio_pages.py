"""Pages to see a portfolio whole: the hierarchy browser and the dashboard."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from api.auth import PageViewer
from api.charts import line_chart
from api.deps import SessionDep
from api.params import RowId
from api.routes.dashboard import DashboardQuery, build
from api.templating import templates
from models.organization import BusinessUnit, LegalEntity
from services import dashboard, hierarchy

router = APIRouter(include_in_schema=False)
LevelName = Literal["organization", "portfolio", "program", "project", "package"]


@router.get("/hierarchy", response_class=HTMLResponse)
async def hierarchy_roots(
    request: Request, viewer: PageViewer, session: SessionDep
) -> HTMLResponse:
    nodes = await hierarchy.roots(session, viewer, date.today())
    return templates.TemplateResponse(request, "hierarchy.html", {"node": None, "nodes": nodes})


@router.get("/hierarchy/{level}/{node_id}", response_class=HTMLResponse)
async def hierarchy_node(
    request: Request, level: LevelName, node_id: RowId, viewer: PageViewer, session: SessionDep
) -> HTMLResponse:
    view = await hierarchy.view(session, hierarchy.LEVELS[level], node_id, viewer, date.today())
    return templates.TemplateResponse(
        request, "hierarchy.html", {"node": view, "nodes": view.children}
    )


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    chosen: Annotated[DashboardQuery, Query()],
    viewer: PageViewer,
    session: SessionDep,
) -> HTMLResponse:
    organization, board = await build(session, viewer, chosen)
    org_id = (organization.id or 0) if organization else 0
    levels = hierarchy.LEVELS
    organizations = await hierarchy.children(session, levels["organization"], None, viewer)
    portfolios = await hierarchy.children(session, levels["portfolio"], org_id, viewer)
    in_org = {p.id for p in portfolios}
    programs = await hierarchy.children(session, levels["program"], None, viewer)
    choices = {
        "organization_id": [(o.id, o.name) for o in organizations],
        "portfolio_id": [(p.id, p.name) for p in portfolios],
        "program_id": [(p.id, p.name) for p in programs if p.portfolio_id in in_org],
        "business_unit_id": await _named(session, BusinessUnit, org_id),
        "legal_entity_id": await _named(session, LegalEntity, org_id),
    }
    chart = line_chart(dashboard.cumulative(board.months))
    largest = max((row.measures for row in board.pipeline), default=0) or 1
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "board": board,
            "chosen": chosen.model_copy(update={"organization_id": org_id}),
            "choices": choices,
            "chart": chart,
            "largest": largest,
            "organization": organization,
            # The list of the measures behind a row or a cell, narrowed as the dashboard is.
            "narrowing": "".join(
                f"{name}={value}&"
                for name, value in chosen.model_copy(update={"organization_id": org_id})
                .model_dump(exclude_none=True)
                .items()
            ),
        },
    )


async def _named(
    session: SessionDep, table: type[BusinessUnit | LegalEntity], organization_id: int
) -> list[tuple[int, str]]:
    rows = await session.exec(
        select(table.id, table.code, table.name)
        .where(table.organization_id == organization_id)
        .order_by(col(table.code))
    )
    return [(row_id or 0, f"{code} · {name}") for row_id, code, name in rows.all()]
