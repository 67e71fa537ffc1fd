"""What every request body must be before any route reads it.

- At most `max_bytes` long (413): a 20 MB JSON body was parsed and saved before.
- No NUL character in any text of a JSON or form body (422): PostgreSQL text cannot hold it, and
  one such comment wedged a measure's lifecycle activity. Refused at the door on both databases.
- No `NaN`, `Infinity` or `-Infinity` in JSON (422): they are not JSON, and not amounts, though
  Python's parser accepts them.

A pure ASGI middleware: it reads the body once, checks it, and hands the same bytes on."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.text import NUL, has_nul


class BodyTooLarge(Exception):
    pass


# Paths that take an uploaded workbook: their limit is the import's.
UPLOADS = ("/api/imports", "/imports")


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        path = str(scope.get("path", ""))
        limit = self.upload_max_bytes if path.startswith(UPLOADS) else self.max_bytes
        try:
            if declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge
            body = await self._read(receive, limit)
        except BodyTooLarge:
            await self._refuse(scope, send, 413, f"the body is larger than {limit:,} bytes")
            return
        if (problem := body_problem(headers.get("content-type", ""), body)) is not None:
            await self._refuse(scope, send, 422, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, status: int, problem: str) -> None:
        # Imported here: api.errors renders pages with the app's templates.
        from api.errors import error_page, wants_page

        request = Request(scope)
        response: Response
        if wants_page(request):
            response = error_page(request, status, f"Nothing was changed: {problem}.")
        else:
            detail = [{"loc": ["body"], "msg": problem, "type": "body_refused"}]
            response = JSONResponse(status_code=status, content={"detail": detail})

        async def nothing_more() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing_more, send)


def body_problem(content_type: str, body: bytes) -> str | None:
    """Why the body is refused, or None."""
    if "application/json" in content_type:
        try:
            data = json.loads(body, parse_constant=_not_json)
        except _NotJson as error:
            return f"{error.literal} is not a number JSON allows; send amounts as numbers or text"
        except ValueError:
            return None  # not JSON at all: the route answers that itself
        return "text may not contain the NUL character (\\u0000)" if has_nul(data) else None
    if "application/x-www-form-urlencoded" in content_type:
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        if any(NUL in name or NUL in value for name, value in fields):
            return "text may not contain the NUL character"
    return None


class _NotJson(ValueError):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _not_json(literal: str) -> Any:
    raise _NotJson(literal)


def _replay(body: bytes, receive: Receive) -> Receive:
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
