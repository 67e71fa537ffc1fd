"""Every refusal, answered in one place: JSON for scripts (`/api/…`, `/healthz`, the OpenAPI
docs), an HTML page in the app's layout for people (every other path).

The services and the lifecycle raise domain errors; this module decides what each door shows.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.auth import SignInRequired
from api.templating import plain_error, templates
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.idempotency import KeyReused
from services.lifecycle import (
    CriteriaUnmet,
    FiguresInvalid,
    LifecycleRefused,
    LifecycleUnavailable,
    NoLifecycle,
    NotAllowedNow,
)

# Paths that answer scripts, not people.
JSON_PATHS = ("/api/", "/healthz", "/openapi.json", "/docs", "/redoc")

TITLES = {
    400: "This request could not be read",
    401: "Please sign in",
    403: "You may not do this",
    404: "This page does not exist",
    405: "This page does not take that request",
    409: "This cannot be done now",
    413: "What you sent is too large",
    422: "Some of what you entered needs correcting",
    429: "Too many attempts",
    503: "ValueGate cannot do this right now",
}


def wants_page(request: Request) -> bool:
    """Whether the request came from a person's browser page rather than a script."""
    path = request.url.path
    return not any(path == p.rstrip("/") or path.startswith(p) for p in JSON_PATHS)


def error_page(
    request: Request, status: int, text: str, problems: list[str] | None = None
) -> HTMLResponse:
    """An error as a page in the app's layout."""
    title = TITLES.get(status) or HTTPStatus(status).phrase
    return templates.TemplateResponse(
        request,
        "error.html",
        {"title": title, "text": _sentence(text), "problems": problems or []},
        status_code=status,
    )


def refusal_text(error: LifecycleRefused) -> str:
    """The lifecycle's no as one paragraph for a page."""
    text = _sentence(str(error))
    if isinstance(error, CriteriaUnmet) and error.unmet:
        text += " Still missing: " + "; ".join(u.message for u in error.unmet) + "."
    if isinstance(error, FiguresInvalid) and error.problems:
        text += " " + "; ".join(f"{p.field}: {p.message}" for p in error.problems) + "."
    return text


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at the request's path (HEAD aside)."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _detail(detail: Any) -> str:
    if isinstance(detail, dict):
        return str(detail.get("message", ""))
    return str(detail)


def install(app: FastAPI) -> None:
    """Register the answer to every domain error and HTTP error on `app`."""

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, error: SignInRequired) -> RedirectResponse:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/sign-in?next={target}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        # A body that cannot be parsed (not JSON, not UTF-8, broken multipart) is bad input like
        # any other: 422, not 400. The app raises no 400 of its own; these come from parsing.
        if error.status_code == 400 and not wants_page(request):
            unparsed = error.detail == "There was an error parsing the body"
            said = "the body is not valid JSON" if unparsed else str(error.detail)
            kind = "json_invalid" if unparsed else "body_invalid"
            detail = [{"loc": ["body"], "msg": said, "type": kind}]
            return JSONResponse(status_code=422, content={"detail": detail})
        if error.status_code == 405:
            # Starlette names the methods of the first route on the path only; list them all.
            allow = ", ".join(allowed_methods(request))
            error.headers = {**(error.headers or {}), "Allow": allow}
        if wants_page(request):
            text = _detail(error.detail)
            if text == HTTPStatus(error.status_code).phrase:  # Starlette's own, e.g. "Not Found"
                text = _default(error.status_code)
            page = error_page(request, error.status_code, text)
            page.headers.update(error.headers or {})
            return page
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if not wants_page(request):
            return await request_validation_exception_handler(request, error)
        if all(e.get("loc", ("",))[0] == "path" for e in error.errors()):
            return error_page(request, 404, _default(404))
        problems = [plain_error(e) for e in error.errors()]
        if request.method in ("GET", "HEAD"):  # a list's filters, say: nothing was to change
            return error_page(
                request, 422, "This page cannot show what the address asks.", problems
            )
        return error_page(request, 422, "Nothing was changed.", problems)

    @app.exception_handler(InvalidInput)
    async def invalid_input(request: Request, error: InvalidInput) -> Response:
        if wants_page(request):
            problems = [f"{p.field.replace('_', ' ')}: {p.message}" for p in error.problems]
            return error_page(request, 422, "Nothing was changed.", problems)
        detail = [
            {"loc": ["body", p.field], "msg": p.message, "type": "value_error"}
            for p in error.problems
        ]
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": detail}))

    for error_type, status in SIMPLE.items():
        app.add_exception_handler(error_type, _simple_handler(status))

    @app.exception_handler(KeyReused)
    async def key_reused(request: Request, error: KeyReused) -> Response:
        detail = [
            {
                "loc": ["header", "idempotency-key"],
                "msg": str(error),
                "type": "idempotency_key_reused",
            }
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(LifecycleRefused)
    async def refused(request: Request, error: LifecycleRefused) -> Response:
        status = 409 if isinstance(error, NotAllowedNow) else 422
        if wants_page(request):
            return error_page(request, status, refusal_text(error))
        if status == 409:
            return JSONResponse(status_code=409, content={"detail": str(error)})
        detail: dict[str, Any] = {"message": str(error)}
        if isinstance(error, CriteriaUnmet):
            detail["unmet_criteria"] = [u.model_dump(mode="json") for u in error.unmet]
        if isinstance(error, FiguresInvalid):
            detail["problems"] = [p.model_dump(mode="json") for p in error.problems]
        return JSONResponse(status_code=422, content={"detail": detail})


# Domain errors whose message is the whole answer, and their status.
SIMPLE: dict[type[Exception], int] = {
    Forbidden: 403,
    Conflict: 409,
    NotFound: 404,
    NoLifecycle: 404,
    LifecycleUnavailable: 503,
}


def _simple_handler(status: int) -> Any:
    async def handle(request: Request, error: Exception) -> Response:
        text = f"{error} not found" if isinstance(error, NotFound) else str(error)
        return _plain(request, status, text)

    return handle


def _plain(request: Request, status: int, text: str) -> Response:
    if wants_page(request):
        return error_page(request, status, text)
    return JSONResponse(status_code=status, content={"detail": text})


def _default(status: int) -> str:
    if status == 404:
        return "It may have been removed, or you may not have access to it."
    if status == 405:
        return "Use the buttons on the page."
    return ""
