"""Editing a measure from its page.

Figures: one form per impact line with a month-by-month grid of the scenarios the editor may
change, saved through the same service as the REST API and guarded by the entity tags of what the
page showed, so nobody overwrites a change they never saw. Milestones: add one, mark one done,
waive one with a reason — through the same service as the REST API too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.auth import PageViewer, page_form
from api.deps import SessionsDep, SettingsDep, TemporalDep
from api.params import RowId
from api.routes.pages import render_measure
from api.templating import field_errors, plain_error
from config.settings import Settings
from models.audit import Actor, Channel
from models.figures import ImpactLine, LineChange, LineIn, MilestoneChange, MilestoneIn
from models.measure import Measure
from models.money import Scenario
from models.people import Person
from services import (
    access,
    figures,
    forecasts,
    impact_lines,
    lifecycle,
    measures,
    milestones,
)
from services.db import transaction
from services.errors import FieldProblem, Forbidden, InvalidInput

router = APIRouter(include_in_schema=False)


@router.post("/measures/{measure_id}/lines/{line_id}/figures")
async def save_line(
    request: Request,
    measure_id: RowId,
    line_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    form = await page_form(request)
    actor = Actor.person(viewer.id, Channel.PAGE)
    try:
        if any(name.startswith(("verified.", "etag.verified")) for name in form):
            raise figures.Refused(
                "verified figures come only from the controller's closure, never from this grid"
            )
        async with transaction(sessions) as session:
            measure = await measures.get(session, measure_id=measure_id)
            if not await access.sees_measure(session, viewer, measure_id):
                raise HTTPException(404, f"measure {measure_id} not found")
            if not await access.edits_figures(session, viewer, measure):
                raise HTTPException(403, "only the owner, its portfolio's managers and admins")
            line = await session.get(ImpactLine, line_id)
            if line is None or line.measure_id != measure_id:
                raise HTTPException(404, f"measure {measure_id} has no impact line {line_id}")
            changed = 0
            for scenario in _scenarios(form):
                values = _values(form, scenario)
                current = await figures.series(session, line_id=line_id, scenario=scenario)
                if current.values == values:
                    continue
                await figures.replace(
                    session,
                    measure=measure,
                    line=line,
                    scenario=scenario,
                    values=values,
                    expected_etag=form[f"etag.{scenario.value}"],
                    actor=actor,
                )
                changed += 1
    except InvalidInput as error:
        message, status = (
            "Nothing was saved: "
            + "; ".join(f"{p.field.replace('values.', '')}: {p.message}" for p in error.problems),
            422,
        )
    except figures.Refused as error:
        message, status = f"Nothing was saved: {error}", 422
    except figures.Stale:
        message, status = (
            "Nothing was saved: someone changed these figures after you opened the page. "
            "Reload the page to see their figures, then enter yours again.",
            409,
        )
    else:
        if changed:
            await lifecycle.figures_changed(temporal, measure_id)
        return RedirectResponse(f"/measures/{measure_id}#line-{line_id}", status_code=303)
    async with sessions() as session:
        return await render_measure(
            request, session, measure_id, viewer, settings, message, status, form
        )


def _scenarios(form: dict[str, str]) -> list[Scenario]:
    """The scenarios the form carried (each with the entity tag of what the page showed)."""
    found = []
    for scenario in figures.EDITABLE:
        if f"etag.{scenario.value}" in form:
            found.append(scenario)
    return found


def _values(form: dict[str, str], scenario: Scenario) -> dict[date, Decimal]:
    values: dict[date, Decimal] = {}
    problems = []
    prefix = f"{scenario.value}."
    for name, text in form.items():
        if not name.startswith(prefix) or not text.strip():
            continue
        try:
            period = date.fromisoformat(name.removeprefix(prefix))
            values[period] = Decimal(text.strip().replace(",", "").replace(" ", ""))
        except (ValueError, InvalidOperation):
            problems.append(
                FieldProblem(
                    f"{scenario.value} {name.removeprefix(prefix)}",
                    f"{text.strip()!r} is not an amount",
                )
            )
    if problems:
        raise InvalidInput(problems)
    return values


@router.post("/measures/{measure_id}/milestones")
async def add_milestone(
    request: Request,
    measure_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    form = await page_form(request)

    async def change(session: AsyncSession, measure: Measure, actor: Actor) -> None:
        data = MilestoneIn.model_validate(
            {
                "title": form.get("title", "").strip(),
                "planned_date": form.get("planned_date") or None,
                "owner_id": measure.owner_id,
            }
        )
        await milestones.add(session, measure=measure, data=data, person=viewer, actor=actor)

    return await _milestone_change(
        request, measure_id, viewer, sessions, settings, temporal, form, change
    )


@router.post("/measures/{measure_id}/milestones/{milestone_id}")
async def change_milestone(
    request: Request,
    measure_id: RowId,
    milestone_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    form = await page_form(request)

    async def change(session: AsyncSession, measure: Measure, actor: Actor) -> None:
        if form.get("waived_reason", "").strip():
            fields = {"waived_reason": form["waived_reason"].strip()}
        else:
            fields = {"done_date": form.get("done_date") or date.today().isoformat()}
        data = MilestoneChange.model_validate(fields)
        await milestones.change(
            session,
            measure=measure,
            milestone_id=milestone_id,
            data=data,
            person=viewer,
            actor=actor,
        )

    return await _milestone_change(
        request, measure_id, viewer, sessions, settings, temporal, form, change
    )


@router.post("/measures/{measure_id}/forecast-confirmation")
async def confirm_forecast(
    request: Request,
    measure_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    form = await page_form(request)

    async def change(session: AsyncSession, measure: Measure, actor: Actor) -> None:
        await forecasts.confirm(
            session, measure=measure, person=viewer, actor=actor, today=date.today()
        )

    return await _milestone_change(
        request, measure_id, viewer, sessions, settings, temporal, form, change, "forecast"
    )


async def _milestone_change(
    request: Request,
    measure_id: int,
    viewer: Person,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
    form: dict[str, str],
    change: Callable[[AsyncSession, Measure, Actor], Awaitable[None]],
    anchor: str = "milestones",
) -> Response:
    """Carry out `change` of the measure for the viewer, then show the page at `anchor`; or the
    page with why nothing was saved."""
    try:
        async with transaction(sessions) as session:
            if not await access.sees_measure(session, viewer, measure_id):
                raise HTTPException(404, f"measure {measure_id} not found")
            measure = await measures.get(session, measure_id=measure_id)
            await change(session, measure, Actor.person(viewer.id, Channel.PAGE))
    except ValidationError as error:
        message = "Nothing was saved: " + "; ".join(plain_error(e) for e in error.errors())
    except InvalidInput as error:
        message = "Nothing was saved: " + "; ".join(p.message for p in error.problems)
    except Forbidden as error:
        raise HTTPException(403, str(error)) from error
    else:
        await lifecycle.figures_changed(temporal, measure_id)
        return RedirectResponse(f"/measures/{measure_id}#{anchor}", status_code=303)
    async with sessions() as session:
        return await render_measure(
            request, session, measure_id, viewer, settings, message, 422, form
        )


@router.post("/measures/{measure_id}/lines")
async def add_line(
    request: Request,
    measure_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    form = await page_form(request)

    async def change(session: AsyncSession, actor: Actor) -> None:
        data = LineIn.model_validate(_line_fields(form))
        await impact_lines.add(
            session, measure_id=measure_id, data=data, person=viewer, actor=actor
        )

    return await _line_change(
        request, measure_id, 0, viewer, sessions, settings, temporal, form, change
    )


@router.post("/measures/{measure_id}/lines/{line_id}/edit")
async def change_line(
    request: Request,
    measure_id: RowId,
    line_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    form = await page_form(request)

    async def change(session: AsyncSession, actor: Actor) -> None:
        data = LineChange.model_validate(
            _line_fields(form) | {"annual_potential": _potential(form)}
        )
        await impact_lines.change(
            session, measure_id=measure_id, line_id=line_id, data=data, person=viewer, actor=actor
        )

    return await _line_change(
        request, measure_id, line_id, viewer, sessions, settings, temporal, form, change
    )


@router.post("/measures/{measure_id}/lines/{line_id}/remove")
async def remove_line(
    request: Request,
    measure_id: RowId,
    line_id: RowId,
    viewer: PageViewer,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    form = await page_form(request)

    async def change(session: AsyncSession, actor: Actor) -> None:
        if form.get("confirm") != "yes":
            raise InvalidInput([FieldProblem("confirm", "tick the box to confirm the removal")])
        await impact_lines.remove(
            session, measure_id=measure_id, line_id=line_id, person=viewer, actor=actor
        )

    return await _line_change(
        request, measure_id, line_id, viewer, sessions, settings, temporal, form, change
    )


def _line_fields(form: dict[str, str]) -> dict[str, object]:
    fields: dict[str, object] = {
        "category": form.get("category", ""),
        "description": form.get("description", "").strip(),
    }
    if (potential := _potential(form)) is not None:
        fields["annual_potential"] = potential
    return fields


def _potential(form: dict[str, str]) -> str | None:
    return form.get("annual_potential", "").strip().replace(",", "").replace(" ", "") or None


async def _line_change(
    request: Request,
    measure_id: int,
    line_id: int,
    viewer: Person,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
    form: dict[str, str],
    change: Callable[[AsyncSession, Actor], Awaitable[None]],
) -> Response:
    """Make an impact line change in one transaction; mistakes next to the line's fields."""
    try:
        async with transaction(sessions) as session:
            await change(session, Actor.person(viewer.id, Channel.PAGE))
    except (ValidationError, InvalidInput) as error:
        errors = field_errors(error)
    else:
        await lifecycle.figures_changed(temporal, measure_id)
        return RedirectResponse(f"/measures/{measure_id}", status_code=303)
    message = "Nothing was saved: " + " ".join(errors.values())
    async with sessions() as session:
        return await render_measure(
            request,
            session,
            measure_id,
            viewer,
            settings,
            message,
            422,
            form,
            line_errors={line_id: errors},
        )
