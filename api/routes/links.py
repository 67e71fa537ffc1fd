"""Signed links from emails: GET shows what the link would do and changes nothing (mail scanners
and link previewers fetch links); POST from our own form does it, once.

Every answer carries `Referrer-Policy: no-referrer` and `Cache-Control: no-store`, so the token
in the address leaves through neither the Referer header nor a cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import verification
from api.auth import SESSION_COOKIE
from api.csrf import FormGuard
from api.deps import SessionsDep, TemporalDep
from api.limits import FailureLimiter
from api.templating import templates
from models.channels import Channel
from models.columns import utcnow
from models.links import LinkAction, LinkState, SignedLink
from models.measure import Measure
from models.money import Scenario
from models.people import Person
from services import accounts, briefing, delegations, lifecycle, links, policies
from services.briefing import Briefing
from workflows.contracts import ConfirmClosure, Decide, LifecycleView
from workflows.measure import MeasureWorkflow

router = APIRouter(prefix="/links", include_in_schema=False)

HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
}

PROBLEMS = {
    LinkState.UNKNOWN: (
        404,
        "This link is not valid",
        "It may have been cut short when it was copied. Open the link from the email again, "
        "or open the measure in ValueGate.",
    ),
    LinkState.USED: (
        409,
        "This link has already been used",
        "Each link works once. What it did is recorded on the measure.",
    ),
    LinkState.EXPIRED: (
        410,
        "This link has expired",
        "Decide on the measure in ValueGate, or ask its owner for a new request.",
    ),
    LinkState.REVOKED: (
        410,
        "This link no longer works",
        "Nothing was changed. Open the measure in ValueGate to see where it stands.",
    ),
}


@dataclass
class Context:
    """What a link page shows."""

    link: SignedLink
    person: Person
    measure: Measure
    about: Briefing
    values: dict[str, str] = field(default_factory=dict)  # what was entered, to show again
    errors: dict[str, str] = field(default_factory=dict)  # form field → what is wrong


@router.get("/{token}", response_class=HTMLResponse)
async def show(token: str, request: Request, sessions: SessionsDep) -> HTMLResponse:
    """The confirmation (or verification) page; changes nothing."""
    context = await _usable(request, sessions, token)
    if isinstance(context, HTMLResponse):
        return context
    if (barred := await _not_for_this_browser(request, sessions, context)) is not None:
        return barred[1]
    return _form(request, context)


@router.post("/{token}", response_class=HTMLResponse)
async def act(
    token: str, request: Request, sessions: SessionsDep, temporal: TemporalDep
) -> HTMLResponse:
    """Do what the link is for, once, after checking the form came from its page."""
    context = await _usable(request, sessions, token, posted=True)
    if isinstance(context, HTMLResponse):
        return context
    link = context.link
    if (barred := await _not_for_this_browser(request, sessions, context)) is not None:
        reason, page = barred
        await links.refused(sessions, link, reason)
        return page
    form = await request.form()
    guard: FormGuard = request.app.state.form_guard
    why = guard.problem(request, link.id or 0, str(form.get("csrf", "")))
    if why is not None:
        await links.refused(sessions, link, why)
        return _page(request, 403, "This form could not be accepted", f"{why.capitalize()}.", link)
    if (duty := await _duty_problem(sessions, context)) is not None:
        await links.refused(sessions, link, duty)
        await links.end(sessions, link, duty, utcnow())
        return _page(request, 403, "This link cannot act any more", duty, link)
    message = _message(context, {k: str(v) for k, v in form.items()})
    if message is None:
        return _form(request, context, status=422)
    if not await links.claim(sessions, link, utcnow()):
        await links.refused(sessions, link, "the link was used")  # by a concurrent post
        return _problem(request, LinkState.USED, link)
    update = (
        MeasureWorkflow.confirm_closure
        if link.action is LinkAction.VERIFY
        else MeasureWorkflow.decide_gate
    )
    try:
        view = await lifecycle.command(
            temporal,
            measure_id=link.measure_id,
            update=update,
            message=message,
            result_type=LifecycleView,
            # The update id makes a repeated delivery of this one decision act once.
            update_id=f"link-{link.id}",
        )
    except lifecycle.LifecycleRefused as refusal:
        return await _refused_by_lifecycle(request, sessions, context, refusal)
    except (lifecycle.LifecycleUnavailable, lifecycle.NoLifecycle):
        await links.release(sessions, link.id or 0)
        return _page(
            request,
            503,
            "ValueGate cannot reach the measure's lifecycle right now",
            "Nothing was changed and the link still works: please try again in a few minutes.",
            link,
        )
    waiting = ", ".join(role.label for role in view.gate.pending) if view.gate else ""
    return _page(
        request,
        200,
        _done(link, context.about),
        f"The measure is in stage {view.stage.label}"
        + (f"; the gate still waits for the {waiting}." if waiting else ".")
        + " Everyone concerned is told by email.",
        link,
    )


async def _refused_by_lifecycle(
    request: Request, sessions: SessionsDep, context: Context, refusal: lifecycle.LifecycleRefused
) -> HTMLResponse:
    """Figures the controller can correct give the link back; any other refusal retires it."""
    link = context.link
    if isinstance(refusal, lifecycle.FiguresInvalid):
        await links.release(sessions, link.id or 0)
        context.errors = verification.figure_errors(context.about, context.values, refusal.problems)
        return _form(request, context, status=422)
    await links.end(sessions, link, str(refusal), utcnow())
    status = 409 if isinstance(refusal, lifecycle.NotAllowedNow) else 403
    return _page(request, status, "This link cannot act any more", f"{refusal}.", link)


async def _usable(
    request: Request, sessions: SessionsDep, token: str, posted: bool = False
) -> Context | HTMLResponse:
    """The page's context when the link can act; otherwise the page saying why not. Unknown
    tokens count against the client; a post on a spent link is recorded."""
    client = _client(request)
    limiter: FailureLimiter = request.app.state.link_limiter
    async with limiter.turn(client) as may_try:
        if not may_try:
            return _too_many(request)
        link, context, state = await _load(sessions, token)
        if link is None:
            await limiter.hit(client)
    if context is not None:
        return context
    if link is not None and posted:
        await links.refused(sessions, link, f"the link was {state.value}")
    return _problem(request, state, link)


async def _load(
    sessions: SessionsDep, token: str
) -> tuple[SignedLink | None, Context | None, LinkState]:
    """The link, the page's context when the link can still act, and the link's state."""
    # A short session of its own: none may stay open while the lifecycle works (SQLite has one
    # connection per process, and the worker's activities may need it).
    async with sessions() as session:
        link = await links.find(session, token)
        if link is None:
            return None, None, LinkState.UNKNOWN
        state = link.state(utcnow())
        if state is not LinkState.VALID:
            return link, None, state
        person = await session.get(Person, link.person_id)
        measure = await session.get(Measure, link.measure_id)
        assert person is not None and measure is not None
        if not person.active:  # revoked when they were deactivated; refused here all the same
            link.revoke_reason = f"{person.name} was deactivated"
            return link, None, LinkState.REVOKED
        about = await briefing.load(session, measure_id=link.measure_id)
    return link, Context(link=link, person=person, measure=measure, about=about), state


async def _not_for_this_browser(
    request: Request, sessions: SessionsDep, context: Context
) -> tuple[str, HTMLResponse] | None:
    """Why this browser may not use the link (for the audit trail), and the page saying so; None
    when it may. A link acts for its own person only, whoever holds it: never in a browser
    signed in as someone else, and, where the gate policy asks for it, only once its person
    has signed in."""
    viewer = await _browser_person(request, sessions)
    if viewer is not None and viewer.id != context.link.person_id:
        why = f"posted from a browser signed in as person:{viewer.id}"
        return why, _not_yours(request, context, viewer)
    if viewer is None and await _sign_in_required(sessions, context):
        return "the gate policy asks the link's person to sign in first", _sign_in_first(
            request, context
        )
    return None


async def _browser_person(request: Request, sessions: SessionsDep) -> Person | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    async with sessions() as session:
        return await accounts.session_person(session, cookie)


async def _sign_in_required(sessions: SessionsDep, context: Context) -> bool:
    async with sessions() as session:
        policy = await policies.of_gate(
            session, measure_id=context.link.measure_id, gate_round=context.link.gate_round
        )
    return policy.link_sign_in.required(
        closure=context.link.action is LinkAction.VERIFY,
        annual_ebitda_in_group=context.about.annual_ebitda_in_group,
    )


def _sign_in_first(request: Request, context: Context) -> HTMLResponse:
    name = context.person.name
    return _page(
        request,
        403,
        f"Please sign in as {name} first",
        "For this decision the portfolio's gate policy asks the person the link was sent to "
        f"to sign in to ValueGate before deciding. Sign in as {name} in this browser, then open "
        "the link from your email again. Nothing was changed.",
        context.link,
    )


def _not_yours(request: Request, context: Context, other: Person) -> HTMLResponse:
    name = context.person.name
    return _page(
        request,
        403,
        f"This link is for {name}",
        f"You are signed in as {other.name}, and a link acts only for the person it was sent "
        f"to. Nothing was changed. If you are {name}, sign out and open the link again.",
        context.link,
    )


async def _duty_problem(sessions: SessionsDep, context: Context) -> str | None:
    """Segregation of duties as the measure stands now, not as it stood when the email went out
    (the workflow checks its own rules again on top)."""
    measure, person = context.measure, context.link.person_id
    if person == measure.owner_id:
        return (
            "You are now the owner of this measure, and an owner never approves their own measure."
        )
    if context.link.action is LinkAction.VERIFY and person != measure.controller_id:
        async with sessions() as session:
            deputising = await delegations.acting_for(
                session,
                deputy_id=person,
                principals=[measure.controller_id] if measure.controller_id else [],
                day=utcnow().date(),
            )
        if deputising is None:
            return "You are no longer the controller of this measure."
    return None


def _message(context: Context, form: dict[str, str]) -> Decide | ConfirmClosure | None:
    """The lifecycle message the form asks for; None (with context.errors) when it is wrong."""
    link, by = context.link, context.link.person_id
    comment = form.get("comment", "").strip()
    context.values = form
    if link.action is not LinkAction.VERIFY:
        if link.action is LinkAction.REJECT and not comment:
            context.errors["comment"] = "A rejection needs a comment for the owner."
            return None
        return Decide(
            by=by,
            approve=link.action is LinkAction.APPROVE,
            comment=comment,
            channel=Channel.EMAIL_LINK,
        )
    verified, context.errors = verification.read(context.about, form)
    if verified is None:
        return None
    return ConfirmClosure(by=by, verified=verified, channel=Channel.EMAIL_LINK)


def _done(link: SignedLink, about: Briefing) -> str:
    if link.action is LinkAction.VERIFY:
        return f"Thank you: you verified the figures of {about.ref} “{about.title}”"
    verdict = "approved" if link.action is LinkAction.APPROVE else "rejected"
    gate = about.next_gate.label if about.next_gate else "the next stage"
    return f"Thank you: you {verdict} the gate to {gate} of {about.ref} “{about.title}”"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _form(request: Request, context: Context, status: int = 200) -> HTMLResponse:
    guard: FormGuard = request.app.state.form_guard
    nonce, csrf = guard.new_form(context.link.id or 0)
    response = templates.TemplateResponse(
        request,
        "link_verify.html" if context.link.action is LinkAction.VERIFY else "link_confirm.html",
        {
            "c": context,
            "gate": context.about.next_gate.label if context.about.next_gate else "",
            "Scenario": Scenario,
            "field_name": verification.field_name,
            "csrf": csrf,
        },
        status_code=status,
        headers=HEADERS,
    )
    guard.set_cookie(response, nonce)
    return response


def _problem(request: Request, state: LinkState, link: SignedLink | None = None) -> HTMLResponse:
    status, title, text = PROBLEMS[state]
    if state is LinkState.REVOKED and link is not None and link.revoke_reason:
        text = f"It was withdrawn because {link.revoke_reason}. {text}"
    return _page(request, status, title, text, link)


def _too_many(request: Request) -> HTMLResponse:
    return _page(
        request,
        429,
        "Too many invalid links",
        "Your address tried too many links that do not exist. Wait a minute, then open the link "
        "from your email again.",
    )


def _page(
    request: Request, status: int, title: str, text: str, link: SignedLink | None = None
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "link_result.html",
        {"title": title, "text": text, "measure_id": link.measure_id if link else None},
        status_code=status,
        headers=HEADERS,
    )
