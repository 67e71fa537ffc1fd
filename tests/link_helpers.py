"""Following signed links from captured emails, as a person in a browser does."""

from __future__ import annotations

import re
from email.message import EmailMessage

import httpx

from tests.support import CapturingSmtp

PUBLIC = "https://valuegate.example.com"  # the settings fixture's public base URL
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def links_in(message: EmailMessage) -> dict[str, str]:
    """The email's signed links by label ("Approve", "Reject", "Verify figures")."""
    found = re.findall(r"^(Approve|Reject|Verify figures): (\S+)$", text_of(message), re.M)
    return dict(found)


async def email_to(
    smtp: CapturingSmtp, recipient: str, subject_part: str, count: int = 1
) -> EmailMessage:
    """The newest email to `recipient` whose subject contains `subject_part`, waiting for up to
    `count` such emails to have arrived."""

    def matching() -> list[EmailMessage]:
        return [
            m
            for m in smtp.messages
            if recipient in str(m["To"]) and subject_part in str(m["Subject"])
        ]

    await smtp.until(lambda: len(matching()) >= count, 20)
    return matching()[-1]


async def open_link(
    http: httpx.AsyncClient, url: str, **headers: str
) -> tuple[httpx.Response, str]:
    """GET the link's page; the response and the form's CSRF value ("" when there is no form)."""
    assert url.startswith(PUBLIC + "/links/"), url
    response = await http.get(url.removeprefix(PUBLIC), headers=headers)
    found = _CSRF.search(response.text)
    return response, found.group(1) if found else ""


async def confirm(
    http: httpx.AsyncClient, url: str, csrf: str, origin: str | None = PUBLIC, **fields: str
) -> httpx.Response:
    """POST the link's form as the browser would, from the page's own origin."""
    headers = {"Origin": origin} if origin else {}
    return await http.post(url.removeprefix(PUBLIC), data={"csrf": csrf, **fields}, headers=headers)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """Sign in through the sign-in form, as a browser does; the client keeps the cookie."""
    page = await http.get("/sign-in")
    found = _CSRF.search(page.text)
    assert found, page.text
    return await http.post(
        "/sign-in", data={"csrf": found.group(1), "email": email, "password": password}
    )
