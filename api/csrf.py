"""Protection of forms against cross-site posts: the signed-link pages and the sign-in form
(where there is no session yet), and, for signed-in people, a per-session value.

Double submit: the page sets a random nonce in a SameSite=Strict cookie and puts a signed copy of
it, bound to what the form is for, in the form (itsdangerous, one salt for this purpose, an
expiry). A POST must bring both, matching, and must not come from another origin (Origin /
Sec-Fetch-Site).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

COOKIE = "vg_form"
SALT = "valuegate.signed-link-form"
MAX_AGE_SECONDS = 2 * 60 * 60  # a confirmation page left open longer is reloaded


class FormGuard:
    def __init__(self, *, secret: str, public_base_url: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self._session_signer = Signer(secret, salt="valuegate.session-csrf")
        parts = urlsplit(public_base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._secure = parts.scheme == "https"

    def new_form(self, bound: int | str) -> tuple[str, str]:
        """A fresh nonce (for the cookie) and the signed value for the form's hidden field."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self._serializer.dumps([bound, nonce])

    def set_cookie(self, response: Response, nonce: str, path: str = "/links") -> None:
        response.set_cookie(
            COOKIE,
            nonce,
            max_age=MAX_AGE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=self._secure,
            path=path,
        )

    def problem(self, request: Request, bound: int | str, field: str) -> str | None:
        """Why this POST is not accepted as coming from our own form; None when it is."""
        if (foreign := self.foreign(request)) is not None:
            return foreign
        try:
            bound_to, nonce = self._serializer.loads(field, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return "the form has expired or was not ours"
        cookie = request.cookies.get(COOKIE)
        if bound_to != bound or cookie is None or not secrets.compare_digest(cookie, nonce):
            return "the form does not belong to this page"
        return None

    def foreign(self, request: Request) -> str | None:
        """Why the request comes from another site, or None."""
        origin = request.headers.get("origin")
        site = request.headers.get("sec-fetch-site")
        if origin == "null":
            # A page with "Referrer-Policy: no-referrer" (the link pages) makes browsers send
            # "Origin: null" with its forms; Fetch Metadata still says where the form was.
            if site != "same-origin":
                return "the form was sent from another site"
        elif origin is not None and origin != self._origin:
            return "the form was sent from another site"
        if site == "cross-site":
            return "the form was sent from another site"
        return None

    def session_value(self, session_token: str) -> str:
        """The CSRF value of a signed-in session: pages put it in forms, scripts in the
        X-CSRF-Token header."""
        return self._session_signer.get_signature(session_token.encode()).decode()

    def session_problem(self, request: Request, session_token: str, sent: str | None) -> str | None:
        """Why an unsafe request on a signed-in session is refused, or None."""
        if (foreign := self.foreign(request)) is not None:
            return foreign
        if not sent or not secrets.compare_digest(sent, self.session_value(session_token)):
            return "the request lacks this session's CSRF value (X-CSRF-Token or csrf field)"
        return None
