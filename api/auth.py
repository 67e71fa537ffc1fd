"""Who is asking: a personal API token (`Authorization: Bearer …`) or a signed-in browser
session (cookie). A request on a session that would change something must also carry the
session's CSRF value and must not come from another site."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.csrf import FormGuard
from api.deps import SessionsDep
from api.params import RowId
from models.people import Person
from services import access, accounts

SESSION_COOKIE = "vg_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CHALLENGE = {"WWW-Authenticate": "Bearer"}
# For the OpenAPI description of every route that needs someone signed in.
SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: {"description": "Nobody is signed in: send a personal API token or a session cookie"},
    403: {"description": "Not allowed for this person, or a session change without CSRF value"},
}


# Declared so the OpenAPI schema (and the Authorize button at /docs) knows about API tokens.
bearer = HTTPBearer(auto_error=False, description="A personal API token (POST /api/tokens).")


async def current_person(
    request: Request,
    sessions: SessionsDep,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> Person:
    """The signed-in person; 401 when nobody is, 403 for a cross-site or CSRF-less change."""
    # A session of its own, closed before the route runs: the route may wait on the lifecycle,
    # whose activities need the database too (SQLite has one connection per process).
    async with sessions() as session:
        if token is not None:
            person = await accounts.token_person(session, token.credentials.strip())
            if person is None:
                raise HTTPException(401, "the API token is unknown or revoked", CHALLENGE)
            return person
        cookie = request.cookies.get(SESSION_COOKIE)
        person = await accounts.session_person(session, cookie) if cookie else None
    if person is None or cookie is None:
        raise HTTPException(
            401,
            "sign in, or send a personal API token as 'Authorization: Bearer <token>'",
            CHALLENGE,
        )
    if request.method not in SAFE_METHODS:
        guard: FormGuard = request.app.state.form_guard
        sent = request.headers.get("x-csrf-token")
        if sent is None and "form" in request.headers.get("content-type", ""):
            sent = str((await request.form()).get("csrf", ""))
        if (why := guard.session_problem(request, cookie, sent)) is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, why)
    return person


async def current_admin(person: Annotated[Person, Depends(current_person)]) -> Person:
    if not person.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin may do this")
    return person


class SignInRequired(Exception):
    """A page was asked for by nobody signed in: the app answers with the sign-in page."""


async def page_viewer(request: Request, sessions: SessionsDep) -> Person:
    """The signed-in person looking at a page; otherwise off to the sign-in page."""
    cookie = request.cookies.get(SESSION_COOKIE)
    async with sessions() as session:
        person = await accounts.session_person(session, cookie) if cookie else None
    if person is None or cookie is None:
        raise SignInRequired
    request.state.viewer = person
    request.state.csrf = request.app.state.form_guard.session_value(cookie)
    return person


async def page_form(request: Request) -> dict[str, str]:
    """The form a signed-in page posted, once its CSRF value and origin are checked (403)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    guard: FormGuard = request.app.state.form_guard
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if (problem := guard.session_problem(request, cookie, form.get("csrf"))) is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, problem)
    return form


async def visible_measure(
    measure_id: RowId, person: Annotated[Person, Depends(current_person)], sessions: SessionsDep
) -> None:
    """404 for a measure the person may not see, as for one that does not exist."""
    async with sessions() as session:
        if not await access.sees_measure(session, person, measure_id):
            raise HTTPException(404, f"measure {measure_id} not found")


CurrentPerson = Annotated[Person, Depends(current_person)]
PageViewer = Annotated[Person, Depends(page_viewer)]
CurrentAdmin = Annotated[Person, Depends(current_admin)]
