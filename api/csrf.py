"""Protection of the forms behind signed links against cross-site posts.

Double submit: the page sets a random nonce in a SameSite=Strict cookie and puts a signed copy of
it, bound to the link, in the form (itsdangerous, one salt for this purpose, an expiry). A POST
must bring both, matching, and must not come from another origin (Origin / Sec-Fetch-Site).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "vg_form"
SALT = "valuegate.signed-link-form"
MAX_AGE_SECONDS = 2 * 60 * 60  # a confirmation page left open longer is reloaded


class FormGuard:
    def __init__(self, *, secret: str, public_base_url: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        parts = urlsplit(public_base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._secure = parts.scheme == "https"

    def new_form(self, link_id: int) -> tuple[str, str]:
        """A fresh nonce (for the cookie) and the signed value for the form's hidden field."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self._serializer.dumps([link_id, nonce])

    def set_cookie(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            COOKIE,
            nonce,
            max_age=MAX_AGE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=self._secure,
            path="/links",
        )

    def problem(self, request: Request, link_id: int, field: str) -> str | None:
        """Why this POST is not accepted as coming from our own form; None when it is."""
        origin = request.headers.get("origin")
        if origin is not None and origin != self._origin:
            return "the form was sent from another site"
        if request.headers.get("sec-fetch-site") == "cross-site":
            return "the form was sent from another site"
        try:
            bound_link, nonce = self._serializer.loads(field, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return "the form has expired or was not ours"
        cookie = request.cookies.get(COOKIE)
        if bound_link != link_id or cookie is None or not secrets.compare_digest(cookie, nonce):
            return "the form does not belong to this link"
        return None
