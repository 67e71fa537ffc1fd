"""Sending one email over SMTP with aiosmtplib (plain, STARTTLS or implicit TLS, with login)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from notifications.render import RenderedEmail


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str = "none"  # "none" | "starttls" | "tls"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0


def message_id_for(business_key: str, sender: str) -> str:
    """A Message-ID derived from the email's business key: a resend is recognisably the same."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "valuegate.invalid"
    return f"<{hashlib.sha256(business_key.encode()).hexdigest()[:40]}@{domain}>"


def build_message(
    *, sender: str, recipient: str, message_id: str, email: RenderedEmail
) -> EmailMessage:
    """A multipart/alternative message with the plain-text and HTML parts."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = email.subject
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=False)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


async def send(config: SmtpConfig, message: EmailMessage) -> None:
    """Hand `message` to the SMTP server; raises aiosmtplib errors on failure."""
    await aiosmtplib.send(
        message,
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        timeout=config.timeout,
    )
