"""/mail: what the dev stack's SMTP catcher caught, with the live signed links in it.

It is a dev tool and holds other people's links, so it exists only in the dev environment with
a catcher running (`valuegate dev`), and only a signed-in admin may open it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from api.auth import page_viewer
from api.deps import SessionsDep, SettingsDep
from api.templating import templates
from notifications.caught_mail import CaughtMail, read_caught

router = APIRouter(include_in_schema=False)


async def _caught(
    request: Request, sessions: SessionsDep, settings: SettingsDep
) -> list[CaughtMail]:
    # Whether the page exists at all is said before anyone is asked to sign in.
    if not request.app.state.mail_page or settings.mail_catcher_dir is None:
        raise HTTPException(404, "there is no mail page here: it runs only with `valuegate dev`")
    viewer = await page_viewer(request, sessions)
    if not viewer.is_admin:
        raise HTTPException(403, "only an admin may read the caught mail")
    return read_caught(settings.mail_catcher_dir)


@router.get("/mail", response_class=HTMLResponse)
async def caught_mail(
    request: Request, sessions: SessionsDep, settings: SettingsDep
) -> HTMLResponse:
    mails = await _caught(request, sessions, settings)
    return templates.TemplateResponse(request, "mail.html", {"mails": mails, "selected": None})


@router.get("/mail/{key}", response_class=HTMLResponse)
async def caught_message(
    request: Request, key: str, sessions: SessionsDep, settings: SettingsDep
) -> HTMLResponse:
    mails = await _caught(request, sessions, settings)
    selected = next((m for m in mails if m.key == key), None)
    if selected is None:
        raise HTTPException(404, "no such message")
    return templates.TemplateResponse(request, "mail.html", {"mails": mails, "selected": selected})
