"""The admin pages: people, business units, legal entities, exchange rates and each portfolio's
gate policy. Every form posts with the session's CSRF value and goes through the same services
as the REST API, so it is checked and audited the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api import policy_form
from api.auth import PageViewer, page_form
from api.deps import SessionsDep
from api.params import RowId
from api.templating import plain_error, templates
from models.audit import Actor, Channel
from models.fx import RateSet
from models.organization import (
    BusinessUnit,
    BusinessUnitCreate,
    LegalEntity,
    LegalEntityCreate,
    Organization,
    Portfolio,
)
from models.people import Person, PersonCreate, PersonUpdate
from models.policy import TIMING_LABELS, Criterion, in_units
from models.stages import Stage
from services import (
    delegations,
    dimensions,
    handover,
    people,
    policies,
    portfolio_roles,
    rates,
)
from services.db import transaction
from services.errors import Conflict, FieldProblem, InvalidInput, NotFound

router = APIRouter(include_in_schema=False, prefix="/admin")
Change = Callable[[AsyncSession, Actor, dict[str, str]], Awaitable[str]]


def _admin(viewer: Person) -> None:
    if not viewer.is_admin:
        raise HTTPException(403, "only an admin may open the admin pages")


@router.get("", response_class=HTMLResponse)
async def admin_page(request: Request, viewer: PageViewer, sessions: SessionsDep) -> Response:
    _admin(viewer)
    return await _render(request, sessions, saved=request.query_params.get("saved"))


async def _render(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    *,
    saved: str | None = None,
    errors: list[str] | None = None,
    entered: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with sessions() as session:
        organizations = (
            await session.exec(select(Organization).order_by(col(Organization.id)))
        ).all()
        context = {
            "people": await people.everyone(session),
            "organizations": organizations,
            "rates": {o.id: await rates.of(session, o.id or 0) for o in organizations},
            "units": await dimensions.of(session, BusinessUnit),
            "entities": await dimensions.of(session, LegalEntity),
            "portfolios": (await session.exec(select(Portfolio).order_by(col(Portfolio.id)))).all(),
            "left_behind": await handover.left_behind(session),
            "delegations": await delegations.listed(session, person_id=None, today=_today()),
        }
    return templates.TemplateResponse(
        request,
        "admin.html",
        {**context, "saved": saved, "errors": errors or [], "entered": entered or {}},
        status_code=status,
    )


async def _apply(
    request: Request,
    viewer: Person,
    sessions: async_sessionmaker[AsyncSession],
    change: Change,
    *,
    back: str = "/admin",
    again: Callable[[list[str], dict[str, str]], Awaitable[HTMLResponse]] | None = None,
) -> Response:
    """Check the form's CSRF value and the viewer's role, make the change in one transaction,
    and go back to the page; on bad input show the page again with what was wrong and what
    was entered (nothing written)."""
    _admin(viewer)
    form = await page_form(request)
    actor = Actor.person(viewer.id, Channel.PAGE)
    try:
        async with transaction(sessions) as session:
            done = await change(session, actor, form)
    except ValidationError as error:
        errors = [plain_error(e) for e in error.errors()]
    except InvalidInput as error:
        errors = [f"{p.field.replace('_', ' ')}: {p.message}" for p in error.problems]
    except (Conflict, NotFound) as error:
        errors = [str(error)]
    else:
        return RedirectResponse(f"{back}?saved={quote(done)}", status_code=303)
    if again is not None:
        return await again(errors, form)
    return await _render(request, sessions, errors=errors, entered=form, status=422)


def _today() -> date:
    return datetime.now(UTC).date()


@router.post("/delegations/{delegation_id}/revoke")
async def revoke_delegation(
    request: Request, delegation_id: RowId, viewer: PageViewer, sessions: SessionsDep
) -> Response:
    _admin(viewer)
    await page_form(request)
    actor = Actor.person(viewer.id, Channel.PAGE)
    await delegations.revoke(sessions, delegation_id=delegation_id, by=viewer, actor=actor)
    return RedirectResponse("/admin?saved=delegation+revoked#delegations", status_code=303)


def _optional(form: dict[str, str], name: str) -> str | None:
    return form.get(name, "").strip() or None


@router.post("/people")
async def add_person(request: Request, viewer: PageViewer, sessions: SessionsDep) -> Response:
    async def change(session: AsyncSession, actor: Actor, form: dict[str, str]) -> str:
        data = PersonCreate.model_validate(
            {
                "email": form.get("email", "").strip(),
                "name": form.get("name", "").strip(),
                "password": _optional(form, "password"),
                "is_admin": form.get("is_admin") == "on",
            }
        )
        person = await people.add(session, data=data, actor=actor)
        return f"Added {person.name}."

    return await _apply(request, viewer, sessions, change)


@router.post("/people/{person_id}")
async def change_person(
    request: Request, person_id: RowId, viewer: PageViewer, sessions: SessionsDep
) -> Response:
    async def change(session: AsyncSession, actor: Actor, form: dict[str, str]) -> str:
        if form.get("active") == "false" and form.get("confirm") != "yes":
            raise InvalidInput([_problem("confirm", "tick the box to confirm the deactivation")])
        data = PersonUpdate.model_validate(
            {"active": form.get("active"), "is_admin": form.get("is_admin")}
        )
        person = await people.change(
            session, person_id=person_id, data=data, admin=viewer, actor=actor
        )
        state = "active" if person.active else "deactivated"
        return f"{person.name} is now {state}{', an admin' if person.is_admin else ''}."

    return await _apply(request, viewer, sessions, change)


@router.post("/business-units")
async def add_unit(request: Request, viewer: PageViewer, sessions: SessionsDep) -> Response:
    async def change(session: AsyncSession, actor: Actor, form: dict[str, str]) -> str:
        data = BusinessUnitCreate.model_validate(_fields(form, "organization_id", "code", "name"))
        row = await dimensions.add(session, BusinessUnit, data.model_dump(), actor)
        return f"Added business unit {row.code}."

    return await _apply(request, viewer, sessions, change)


@router.post("/legal-entities")
async def add_entity(request: Request, viewer: PageViewer, sessions: SessionsDep) -> Response:
    async def change(session: AsyncSession, actor: Actor, form: dict[str, str]) -> str:
        data = LegalEntityCreate.model_validate(
            _fields(form, "organization_id", "code", "name", "currency")
        )
        row = await dimensions.add(session, LegalEntity, data.model_dump(), actor)
        return f"Added legal entity {row.code} ({row.currency})."

    return await _apply(request, viewer, sessions, change)


@router.post("/rates")
async def set_rate(request: Request, viewer: PageViewer, sessions: SessionsDep) -> Response:
    async def change(session: AsyncSession, actor: Actor, form: dict[str, str]) -> str:
        rate = RateSet.model_validate({"rate": form.get("rate", "").strip()}).rate
        row = await rates.put(
            session,
            organization_id=_id(form, "organization_id"),
            currency=form.get("currency", ""),
            rate=rate,
            actor=actor,
        )
        return f"1 {row.currency} = {row.rate} in the group currency."

    return await _apply(request, viewer, sessions, change)


@router.post("/rates/remove")
async def remove_rate(request: Request, viewer: PageViewer, sessions: SessionsDep) -> Response:
    async def change(session: AsyncSession, actor: Actor, form: dict[str, str]) -> str:
        currency = form.get("currency", "")
        await rates.remove(
            session, organization_id=_id(form, "organization_id"), currency=currency, actor=actor
        )
        return f"Removed the rate for {currency.upper()}."

    return await _apply(request, viewer, sessions, change)


@router.get("/portfolios/{portfolio_id}/policy", response_class=HTMLResponse)
async def policy_page(
    request: Request, portfolio_id: RowId, viewer: PageViewer, sessions: SessionsDep
) -> Response:
    _admin(viewer)
    return await _policy(request, sessions, portfolio_id, saved=request.query_params.get("saved"))


async def _policy(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    portfolio_id: int,
    *,
    saved: str | None = None,
    errors: list[str] | None = None,
    entered: dict[str, str] | None = None,
    wrong: dict[str, str] | None = None,
) -> HTMLResponse:
    async with sessions() as session:
        portfolio = await session.get(Portfolio, portfolio_id)
        if portfolio is None:
            raise HTTPException(404, f"portfolio {portfolio_id} not found")
        policy = await policies.current(session, portfolio_id=portfolio_id)
        roles = {
            role: await portfolio_roles.holders(session, role, portfolio_id)
            for role in ("managers", "steering-committee")
        }
        everyone = [p for p in await people.everyone(session) if p.active]
        versions = await policies.history(session, portfolio_id=portfolio_id)
    return templates.TemplateResponse(
        request,
        "admin_policy.html",
        {
            "portfolio": portfolio,
            "policy": policy,
            "versions": versions,
            "criteria": list(Criterion),
            "approver_roles": policy_form.APPROVERS,
            "editable": policy_form.EDITABLE,
            "criterion_field": policy_form.criterion_field,
            "approver_field": policy_form.approver_field,
            "in_units": in_units,
            "saved": saved,
            "errors": errors or [],
            "entered": entered or {},
            "field_errors": wrong or {},
            "timings": TIMING_LABELS,
            "roles": roles,
            "everyone": everyone,
        },
        status_code=422 if errors else 200,
    )


@router.post("/portfolios/{portfolio_id}/policy")
async def publish_policy(
    request: Request, portfolio_id: RowId, viewer: PageViewer, sessions: SessionsDep
) -> Response:
    """Publish the editor's policy as the next version; a mistake shows next to its field."""
    _admin(viewer)
    form = await page_form(request)
    async with sessions() as session:
        current = await policies.current(session, portfolio_id=portfolio_id)
    policy, wrong = policy_form.read(form, current)
    if policy is None:
        return await _policy(
            request, sessions, portfolio_id, errors=_summary(wrong), entered=form, wrong=wrong
        )
    async with transaction(sessions) as session:
        published = await policies.publish(
            session,
            portfolio_id=portfolio_id,
            policy=policy,
            actor=Actor.person(viewer.id, Channel.PAGE),
        )
    done = f"Published version {published.version}: gates opened from now on use it."
    back = f"/admin/portfolios/{portfolio_id}/policy"
    return RedirectResponse(f"{back}?saved={quote(done)}", status_code=303)


def _summary(wrong: dict[str, str]) -> list[str]:
    """The mistakes as sentences above the form (each is also shown next to its field)."""
    named = {
        "steering_threshold": "Steering threshold",
        "closure_tolerance_percent": "Closure tolerance",
        "link_sign_in_at_or_above": "Signed-in links from",
        **TIMING_LABELS,
    }
    lines = []
    for field, message in wrong.items():
        label = named.get(field) or (
            f"Approvers of the gate to {Stage(field.split(':')[1]).label}"
            if field.startswith("approvers:")
            else ""
        )
        text = message[:1].upper() + message[1:] if not label else message
        lines.append(f"{label}: {text}." if label else text.rstrip(".") + ".")
    return lines


@router.post("/portfolios/{portfolio_id}/roles")
async def change_role(
    request: Request, portfolio_id: RowId, viewer: PageViewer, sessions: SessionsDep
) -> Response:
    async def change(session: AsyncSession, actor: Actor, form: dict[str, str]) -> str:
        role = form.get("role", "")
        if role not in portfolio_roles.TABLES:
            raise InvalidInput([_problem("role", "choose managers or steering-committee")])
        give = form.get("give") == "true"
        person_id = _id(form, "person_id")
        await portfolio_roles.change(
            session,
            role=role,
            portfolio_id=portfolio_id,
            person_id=person_id,
            give=give,
            actor=actor,
        )
        person = await session.get(Person, person_id)
        what = "manager" if role == "managers" else "steering-committee member"
        name = person.name if person else person_id
        return f"{name} is {'now' if give else 'no longer'} a {what}."

    async def again(errors: list[str], form: dict[str, str]) -> HTMLResponse:
        return await _policy(request, sessions, portfolio_id, errors=errors, entered=form)

    back = f"/admin/portfolios/{portfolio_id}/policy"
    return await _apply(request, viewer, sessions, change, back=back, again=again)


def _fields(form: dict[str, str], *names: str) -> dict[str, str]:
    return {name: form.get(name, "").strip() for name in names}


def _id(form: dict[str, str], name: str) -> int:
    value = form.get(name, "")
    if not value.isdigit():
        raise InvalidInput([_problem(name, "choose one")])
    return int(value)


def _problem(field: str, message: str) -> FieldProblem:
    return FieldProblem(field, message)
