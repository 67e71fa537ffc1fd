"""Server-rendered pages for people: the measure list and a measure's page, with the lifecycle
actions the viewer may take."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import NoResultFound
from sqlmodel.ext.asyncio.session import AsyncSession

from api import verification
from api.auth import SESSION_COOKIE, PageViewer, page_form
from api.csrf import FormGuard
from api.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.errors import refusal_text
from api.params import RowId
from api.templating import field_errors, plain_error, templates
from config.settings import Settings
from models import forecasts
from models.audit import Actor
from models.channels import Channel
from models.measure import Measure, MeasureCreate, MeasureUpdate, workflow_id_for
from models.measure_query import MeasureQuery
from models.money import ImpactCategory, Scenario
from models.organization import BusinessUnit, LegalEntity
from models.people import Person
from models.stages import GATE_ORDER, TERMINAL_STAGES, Stage
from models.status import Light
from services import (
    access,
    briefing,
    dimensions,
    figures,
    hierarchy,
    lifecycle,
    measure_view,
    measures,
    milestones,
    people,
    rollup,
)
from services.db import transaction
from services.errors import FieldProblem, InvalidInput, NotFound
from workflows.contracts import (
    Cancel,
    ConfirmClosure,
    Decide,
    GateView,
    LifecycleView,
    PutOnHold,
    Resume,
    SubmitGate,
)
from workflows.measure import MeasureWorkflow

router = APIRouter(include_in_schema=False)

Action = Literal["submit", "approve", "reject", "hold", "resume", "cancel"]


PAGE_SIZE = 50


@router.get("/measures", response_class=HTMLResponse)
async def measure_list(
    request: Request,
    viewer: PageViewer,
    session: SessionDep,
    query: Annotated[MeasureQuery, Query()],
) -> HTMLResponse:
    """The measures the viewer may see, searched, filtered and paged like the API's list."""
    query = query.model_copy(update={"limit": min(query.limit, PAGE_SIZE)})
    found, total, planned = await measures.find(
        session,
        query=query,
        where=access.visible_measures(viewer),
        person_id=viewer.id or 0,
        today=date.today(),
    )
    rows = await measures.with_status(session, found, today=date.today())
    if planned is None:
        planned = await rollup.planned_values(session, [m.id or 0 for m in found])
    chosen = query.model_dump(exclude_defaults=True, exclude={"limit", "offset"})
    return templates.TemplateResponse(
        request,
        "measures.html",
        {
            "rows": rows,
            "planned": planned,
            "export_query": urlencode(chosen, doseq=True),
            "query": query,
            "total": total,
            "stages": list(Stage),
            "lights": [Light.GREEN, Light.AMBER, Light.RED, Light.NONE],
            "before": _page_link(chosen, query.offset - query.limit) if query.offset else None,
            "after": _page_link(chosen, query.offset + query.limit)
            if query.offset + query.limit < total
            else None,
        },
    )


def _page_link(chosen: dict[str, Any], offset: int) -> str:
    """The list's address with the same search and filters, at `offset`."""
    return "/measures?" + urlencode({**chosen, "offset": max(offset, 0)}, doseq=True)


@router.get("/measures/new", response_class=HTMLResponse)
async def new_measure_page(
    request: Request, viewer: PageViewer, session: SessionDep
) -> HTMLResponse:
    return await _new_measure(request, session, viewer)


@router.post("/measures/new", response_model=None)
async def create_measure(
    request: Request,
    viewer: PageViewer,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    """Create a measure under a package the viewer manages, and start its lifecycle."""
    form = await page_form(request)
    sent = {name: _form_value(name, form.get(name, "")) for name in (*EDIT_FIELDS, "package_id")}
    sent = {name: value for name, value in sent.items() if value is not None}
    errors: dict[str, str] = {}
    try:
        data = MeasureCreate.model_validate(sent)
        async with transaction(sessions) as session:
            portfolio = await measures.portfolio_of(session, package_id=data.package_id)
            if not await access.manages_portfolio(session, viewer, portfolio):
                raise InvalidInput([FieldProblem("package_id", "you do not manage its portfolio")])
            measure, _ = await measures.create(
                session, data=data, actor=Actor.person(viewer.id, Channel.PAGE)
            )
            facts = await measures.facts(session, measure=measure, today=date.today())
    except (ValidationError, InvalidInput) as error:
        errors = field_errors(error)
    except NoResultFound:
        errors = {"package_id": "Choose a measure package."}
    else:
        await lifecycle.start(temporal, facts=facts, task_queue=settings.temporal_task_queue)
        return RedirectResponse(f"/measures/{facts.measure_id}", status_code=303)
    async with sessions() as session:
        return await _new_measure(request, session, viewer, form, errors)


async def _new_measure(
    request: Request,
    session: AsyncSession,
    viewer: Person,
    entered: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    packages = await hierarchy.packages_managed_by(session, viewer)
    organizations = {p.organization_id for p in packages}
    organization = next(iter(organizations)) if len(organizations) == 1 else None
    return templates.TemplateResponse(
        request,
        "measure_new.html",
        {
            "packages": packages,
            "measure": Measure(title="", package_id=0),
            "choices": {
                "people": [p for p in await people.everyone(session) if p.active],
                "units": await dimensions.of(session, BusinessUnit, organization),
                "entities": await dimensions.of(session, LegalEntity, organization),
            },
            "entered": entered or {},
            "field_errors": errors or {},
            "error": "Nothing was saved: correct the fields marked below." if errors else None,
        },
        status_code=422 if errors else 200,
    )


@router.get("/measures/{measure_id}", response_class=HTMLResponse)
async def measure_page(
    request: Request,
    measure_id: RowId,
    viewer: PageViewer,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    return await render_measure(request, session, measure_id, viewer, settings)


@router.post("/measures/{measure_id}/lifecycle/{action}", response_model=None)
async def act(
    request: Request,
    measure_id: RowId,
    action: Action,
    viewer: PageViewer,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    """Take a lifecycle action from the measure's page, as the signed-in person."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    guard: FormGuard = request.app.state.form_guard
    problem = guard.session_problem(
        request, request.cookies.get(SESSION_COOKIE, ""), form.get("csrf")
    )
    status = 403
    if problem is None and action == "cancel" and form.get("confirm") != "yes":
        problem, status = "Nothing was changed: tick the box to confirm the cancellation.", 422
    if problem is None:
        try:
            update, message = _message(action, viewer.id or 0, form)
            await lifecycle.command(
                temporal,
                measure_id=measure_id,
                update=update,
                message=message,
                result_type=GateView if action == "submit" else LifecycleView,
            )
            return RedirectResponse(f"/measures/{measure_id}", status_code=303)
        except ValidationError as error:
            problem, status = " ".join(plain_error(e) for e in error.errors()), 422
        except lifecycle.LifecycleRefused as error:
            problem = refusal_text(error)
            status = 409 if isinstance(error, lifecycle.NotAllowedNow) else 422
    async with sessions() as session:
        return await render_measure(
            request, session, measure_id, viewer, settings, problem, status, form
        )


async def _edit_context(session: AsyncSession, viewer: Person, measure: Measure) -> Any:
    """What the master data form offers the viewer, or None when the measure is final."""
    if measure.stage in TERMINAL_STAGES:
        return None
    portfolio = await measures.portfolio_of(session, package_id=measure.package_id)
    organization = await measures.organization_of(session, package_id=measure.package_id)
    return {
        "choices": {
            "people": [p for p in await people.everyone(session) if p.active],
            "units": await dimensions.of(session, BusinessUnit, organization),
            "entities": await dimensions.of(session, LegalEntity, organization),
        },
        "frozen": measure.plan_frozen_at is not None,
        "names_people": await access.manages_portfolio(session, viewer, portfolio),
    }


EDIT_FIELDS = (
    "title", "description", "owner_id", "sponsor_id", "controller_id", "business_unit_id",
    "legal_entity_id", "plan_start", "horizon_months", "baseline_amount", "baseline_period",
    "baseline_source",
)  # fmt: skip


@router.post("/measures/{measure_id}/edit", response_model=None)
async def edit_measure(
    request: Request,
    measure_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    """Save the master data form; mistakes are shown next to their fields, nothing saved."""
    form = await page_form(request)
    sent = {name: _form_value(name, form[name]) for name in EDIT_FIELDS if name in form}
    errors: dict[str, str] = {}
    try:
        data = MeasureUpdate.model_validate(sent)
        async with transaction(sessions) as session:
            await measures.edit(
                session, measure_id=measure_id, data=data, person=viewer, channel=Channel.PAGE
            )
    except (ValidationError, InvalidInput) as error:
        errors = field_errors(error)
    else:
        await lifecycle.figures_changed(temporal, measure_id)
        return RedirectResponse(f"/measures/{measure_id}", status_code=303)
    async with sessions() as session:
        return await render_measure(
            request,
            session,
            measure_id,
            viewer,
            settings,
            "Nothing was saved: correct the fields marked below.",
            422,
            form,
            field_errors=errors,
        )


def _form_value(name: str, text: str) -> object:
    """A form field as the update takes it: empty is no value, a month is its first day."""
    text = text.strip()
    if not text:
        return None
    if name == "plan_start" and len(text) == 7:
        return f"{text}-01"
    return text


@router.post("/measures/{measure_id}/closure", response_model=None)
async def confirm_closure(
    request: Request,
    measure_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    """The controller verifies the achieved figures on the measure's page, as from the link."""
    form = await page_form(request)
    async with sessions() as session:
        if not await access.sees_measure(session, viewer, measure_id):
            raise NotFound(f"measure {measure_id}")
        about = await briefing.load(session, measure_id=measure_id)
    verified, errors = verification.read(about, form)
    problem = None
    if verified is not None:
        message = ConfirmClosure(by=viewer.id or 0, verified=verified, channel=Channel.PAGE)
        try:
            await lifecycle.command(
                temporal,
                measure_id=measure_id,
                update=MeasureWorkflow.confirm_closure,
                message=message,
                result_type=LifecycleView,
            )
            return RedirectResponse(f"/measures/{measure_id}", status_code=303)
        except lifecycle.FiguresInvalid as refusal:
            errors = verification.figure_errors(about, form, refusal.problems)
            problem = refusal_text(refusal)
        except lifecycle.LifecycleRefused as refusal:
            problem = refusal_text(refusal)
    async with sessions() as session:
        return await render_measure(
            request,
            session,
            measure_id,
            viewer,
            settings,
            problem or "Nothing was saved: correct the fields marked below.",
            422,
            form,
            verify_errors=errors,
        )


def _message(action: Action, by: int, form: dict[str, str]) -> tuple[Any, BaseModel]:
    """The workflow update and its message for `action`, recorded as taken on a page."""
    page = Channel.PAGE
    comment = form.get("comment", "").strip()
    if action == "submit":
        return MeasureWorkflow.submit_gate, SubmitGate(by=by, channel=page)
    if action in ("approve", "reject"):
        return MeasureWorkflow.decide_gate, Decide(
            by=by, approve=action == "approve", comment=comment, channel=page
        )
    if action == "hold":
        return MeasureWorkflow.put_on_hold, PutOnHold.model_validate(
            {
                "by": by,
                "reason": form.get("reason", "").strip(),
                "review_date": form.get("review_date"),
                "channel": page,
            }
        )
    if action == "resume":
        return MeasureWorkflow.resume, Resume(by=by, channel=page)
    return MeasureWorkflow.cancel, Cancel.model_validate(
        {"by": by, "reason": form.get("reason", "").strip(), "channel": page}
    )


def _forecast_due(measure: Measure) -> date | None:
    """By when the owner is to confirm the measure's forecast next; None: it is not asked for."""
    if measure.stage not in forecasts.ASKED_IN or measure.forecast_confirmed_on is None:
        return None
    return forecasts.due_by(measure.forecast_confirmed_on)


async def render_measure(
    request: Request,
    session: AsyncSession,
    measure_id: int,
    viewer: Person,
    settings: Settings,
    error: str | None = None,
    status: int = 200,
    entered: dict[str, str] | None = None,
    verify_errors: dict[str, str] | None = None,
    field_errors: dict[str, str] | None = None,
    line_errors: dict[int, dict[str, str]] | None = None,
) -> HTMLResponse:
    if not await access.sees_measure(session, viewer, measure_id):
        raise NotFound(f"measure {measure_id}")
    view = await measure_view.load(session, measure_id=measure_id)
    about = await briefing.load(session, measure_id=measure_id)
    delivery_status, value_status = await measures.judged_status(
        session, measure_id=measure_id, today=date.today()
    )
    may_edit = await access.edits_figures(session, viewer, view.measure)
    editable = figures.editable_now(view.measure) if may_edit else ()
    etags = {
        (line.id, scenario): figures.Series(values=line.amounts.get(scenario, {})).etag
        for line in about.lines
        for scenario in editable
    }
    ui = str(settings.temporal_ui_url).rstrip("/")
    workflow_url = (
        f"{ui}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id_for(measure_id)}"
    )
    return templates.TemplateResponse(
        request,
        "measure.html",
        {
            "measure": view.measure,
            "view": view,
            "about": about,
            "delivery_status": delivery_status,
            "value_status": value_status,
            "forecast_due": _forecast_due(view.measure),
            "workflow_url": workflow_url,
            "actions": view.actions_for(viewer.id or 0),
            "stages": GATE_ORDER,
            "reached": GATE_ORDER.index(view.measure.stage)
            if view.measure.stage in GATE_ORDER
            else -1,
            "Scenario": Scenario,
            "error": error,
            "entered": entered or {},
            "editable": editable,
            "etags": etags,
            "may_edit": may_edit,
            "milestones": await milestones.of(session, measure_id),
            "today": date.today(),
            "final": view.measure.stage in TERMINAL_STAGES,
            "verify_errors": verify_errors or {},
            "field_errors": field_errors or {},
            "line_errors": line_errors or {},
            "lines_open": may_edit
            and view.measure.plan_frozen_at is None
            and view.measure.stage not in TERMINAL_STAGES,
            "categories": list(ImpactCategory),
            "edit": await _edit_context(session, viewer, view.measure) if may_edit else None,
            "field_name": verification.field_name,
        },
        status_code=status,
    )
