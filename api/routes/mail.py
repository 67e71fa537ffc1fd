"""/mail: what the dev mail catcher caught (only when VALUEGATE_MAIL_CATCHER_DIR is set)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep
from api.templating import templates
from valuegate.mailcatcher import read_caught

router = APIRouter(include_in_schema=False)


@router.get("/mail", response_class=HTMLResponse)
async def caught_mail(request: Request, settings: SettingsDep) -> HTMLResponse:
    if settings.mail_catcher_dir is None:
        raise HTTPException(404, "no mail catcher is running (it runs with `valuegate dev`)")
    mails = read_caught(settings.mail_catcher_dir)
    return templates.TemplateResponse(request, "mail.html", {"mails": mails, "selected": None})


@router.get("/mail/{key}", response_class=HTMLResponse)
async def caught_message(request: Request, key: str, settings: SettingsDep) -> HTMLResponse:
    if settings.mail_catcher_dir is None:
        raise HTTPException(404, "no mail catcher is running (it runs with `valuegate dev`)")
    mails = read_caught(settings.mail_catcher_dir)
    selected = next((m for m in mails if m.key == key), None)
    if selected is None:
        raise HTTPException(404, "no such message")
    return templates.TemplateResponse(request, "mail.html", {"mails": mails, "selected": selected})
