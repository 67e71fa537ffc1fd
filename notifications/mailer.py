"""Sending one email over SMTP with aiosmtplib (plain, STARTTLS or implicit TLS, with login)."""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
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
    # A CA bundle to trust besides the system's, for relays with an internal certificate.
    ca_file: str | None = None


def message_id_for(business_key: str, sender: str) -> str:
    """A Message-ID derived from the email's business key: a resend is recognisably the same."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "valuegate.invalid"
    return f"<{hashlib.sha256(business_key.encode()).hexdigest()[:40]}@{domain}>"


def build_message(
    *, sender: str, recipient: str, message_id: str, email: RenderedEmail
) -> MIMEMultipart:
    """A multipart/alternative message with the plain-text and HTML parts (UTF-8)."""
    # The compat32 MIME classes: the same wire format as EmailMessage, at a fraction of the cost
    # of its header registry (every lifecycle step sends mail).
    message = MIMEMultipart("alternative")
    message["From"] = sender
    message["To"] = recipient
    subject: str | Header = (
        email.subject if email.subject.isascii() else Header(email.subject, "utf-8")
    )
    message["Subject"] = subject  # type: ignore[assignment]
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=False)
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(email.text, "plain", "utf-8"))
    message.attach(MIMEText(email.html, "html", "utf-8"))
    return message


async def send(config: SmtpConfig, message: Message) -> None:
    """Hand `message` to the SMTP server; raises aiosmtplib errors on failure."""
    await aiosmtplib.send(
        message,
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        tls_context=ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None,
        timeout=config.timeout,
    )
