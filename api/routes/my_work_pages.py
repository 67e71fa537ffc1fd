"""The My work page: decisions waiting for the viewer (their own and those they deputise for),
their measures' next steps, overdue milestones, and their deputies while they are away."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import PageViewer, page_form
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from api.templating import field_errors, templates
from models.audit import Actor
from models.channels import Channel
from models.delegation import DelegationCreate
from models.people import Person
from services import delegations, my_work, people
from services.errors import InvalidInput

router = APIRouter(include_in_schema=False)


@router.get("/my-work", response_class=HTMLResponse)
async def my_work_page(request: Request, viewer: PageViewer, session: SessionDep) -> HTMLResponse:
    return await _render(request, session, viewer)


@router.post("/my-work/deputies", response_model=None)
async def name_deputy(
    request: Request, viewer: PageViewer, sessions: SessionsDep, session: SessionDep
) -> Response:
    """Name a deputy for a date range, from the form on My work."""
    form = await page_form(request)
    entered = {k: form.get(k, "") for k in ("deputy_id", "starts_on", "ends_on")}
    try:
        data = DelegationCreate.model_validate({k: v or None for k, v in entered.items()})
        await delegations.name_deputy(
            sessions,
            person_id=viewer.id or 0,
            data=data,
            by=viewer,
            actor=Actor.person(viewer.id, Channel.PAGE),
            today=datetime.now(UTC).date(),
        )
    except (ValidationError, InvalidInput) as error:
        errors = field_errors(error)
        if "form" in errors:  # the range as a whole: shown at its end
            errors["ends_on"] = errors.pop("form")
        return await _render(request, session, viewer, entered, errors, status=422)
    return RedirectResponse("/my-work#deputies", status_code=303)


@router.post("/my-work/deputies/{delegation_id}/revoke", response_model=None)
async def revoke(
    request: Request,
    delegation_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
) -> Response:
    """End a delegation (refusals answer with the error page, nothing changed)."""
    await page_form(request)
    await delegations.revoke(
        sessions,
        delegation_id=delegation_id,
        by=viewer,
        actor=Actor.person(viewer.id, Channel.PAGE),
    )
    return RedirectResponse("/my-work#deputies", status_code=303)


async def _render(
    request: Request,
    session: SessionDep,
    viewer: Person,
    entered: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    today = datetime.now(UTC).date()
    work = await my_work.load(session, person_id=viewer.id or 0, today=today)
    context = {
        "work": work,
        "delegations": await delegations.listed(session, person_id=viewer.id, today=today),
        "candidates": [p for p in await people.everyone(session) if p.active and p.id != viewer.id],
        "today": today,
        "entered": entered or {},
        "field_errors": errors or {},
    }
    return templates.TemplateResponse(request, "my_work.html", context, status_code=status)
