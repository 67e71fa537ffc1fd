"""Signing in and out, who I am, and my personal API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.auth import SESSION_COOKIE, SIGNED_IN, CurrentPerson
from api.csrf import FormGuard
from api.deps import SessionsDep, SettingsDep
from api.limits import FailureLimiter
from api.params import RowId
from api.templating import templates
from models.accounts import ApiTokenCreated, ApiTokenPublic
from models.people import PersonPublic
from services import accounts

router = APIRouter()
SIGN_IN = "sign-in"


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What the token is for.")


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_page(request: Request, next: str = "/measures") -> HTMLResponse:
    return _sign_in_form(request, next, error=None, email="")


@router.post("/sign-in", include_in_schema=False, response_model=None)
async def sign_in(request: Request, sessions: SessionsDep, settings: SettingsDep) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    target = _local(str(form.get("next", "/measures")))
    limiter: FailureLimiter = request.app.state.sign_in_limiter
    client = request.client.host if request.client else "unknown"
    guard: FormGuard = request.app.state.form_guard
    if (why := guard.problem(request, SIGN_IN, str(form.get("csrf", "")))) is not None:
        return _sign_in_form(request, target, f"{why.capitalize()}; try again.", email, 403)
    async with limiter.turn(client) as may_try:
        if not may_try:
            return _sign_in_form(
                request, target, "Too many failed attempts: wait a minute.", email, status=429
            )
        async with sessions() as session:
            person = await accounts.check_password(session, email=email, password=password)
        if person is None:
            await limiter.hit(client)
            return _sign_in_form(request, target, "The email or the password is wrong.", email, 401)
    token = await accounts.start_session(sessions, person)
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=str(settings.public_base_url).startswith("https://"),
    )
    return response


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request, person: CurrentPerson, sessions: SessionsDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await accounts.end_session(sessions, cookie)
    response = RedirectResponse("/sign-in", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get(
    "/api/me", response_model=PersonPublic, tags=["people"], summary="Who I am", responses=SIGNED_IN
)
async def me(person: CurrentPerson) -> PersonPublic:
    return PersonPublic.model_validate(person, from_attributes=True)


@router.post(
    "/api/tokens",
    response_model=ApiTokenCreated,
    responses=SIGNED_IN,
    status_code=201,
    tags=["people"],
    summary="Create a personal API token (shown once)",
)
async def create_token(
    body: TokenRequest, person: CurrentPerson, sessions: SessionsDep
) -> ApiTokenCreated:
    row, token = await accounts.issue_api_token(sessions, person, body.name)
    return ApiTokenCreated(**row.model_dump(include=set(ApiTokenPublic.model_fields)), token=token)


@router.get(
    "/api/tokens",
    response_model=list[ApiTokenPublic],
    tags=["people"],
    summary="My API tokens",
    responses=SIGNED_IN,
)
async def list_tokens(person: CurrentPerson, sessions: SessionsDep) -> list[ApiTokenPublic]:
    async with sessions() as session:
        rows = await accounts.tokens_of(session, person.id or 0)
    return [ApiTokenPublic.model_validate(row, from_attributes=True) for row in rows]


@router.delete(
    "/api/tokens/{token_id}",
    status_code=204,
    tags=["people"],
    summary="Revoke one of my API tokens",
    responses={**SIGNED_IN, 404: {"description": "No such live token of yours"}},
)
async def revoke_token(token_id: RowId, person: CurrentPerson, sessions: SessionsDep) -> Response:
    if not await accounts.revoke_api_token(sessions, person, token_id):
        raise HTTPException(404, f"you have no live API token {token_id}")
    return Response(status_code=204)


def _local(target: str) -> str:
    """`target` when it is a path on this site; the measure list otherwise (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/measures"
    return target


def _sign_in_form(
    request: Request, target: str, error: str | None, email: str, status: int = 200
) -> HTMLResponse:
    guard: FormGuard = request.app.state.form_guard
    nonce, csrf = guard.new_form(SIGN_IN)
    response = templates.TemplateResponse(
        request,
        "sign_in.html",
        {"next": _local(target), "error": error, "email": email, "csrf": csrf},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
    guard.set_cookie(response, nonce, path="/sign-in")
    return response
