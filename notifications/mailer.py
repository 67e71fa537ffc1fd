"""Sending email over SMTP with aiosmtplib (plain, STARTTLS or implicit TLS, with login)."""

from __future__ import annotations

import asyncio
import contextlib
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
    """Hand `message` to the SMTP server over a connection of its own; raises aiosmtplib errors
    on failure."""
    async with _client(config) as client:
        await client.send_message(message)


SERVICE_CLOSING = 421


class Mailer:
    """Sends over SMTP connections kept open between emails, at most `connections` at a time.

    A new connection costs a TCP handshake and EHLO (and TLS and login where configured), and
    every lifecycle step sends emails. A kept connection that the server closed while it was
    idle (or answers 421, closing) is replaced, once, by a new one; any other failure closes the
    connection and is raised.
    """

    def __init__(self, config: SmtpConfig, *, connections: int = 4) -> None:
        self.config = config
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)

    async def send(self, message: Message) -> None:
        """Hand `message` to the SMTP server; raises aiosmtplib errors on failure."""
        async with self._slots:
            kept = self._idle.pop() if self._idle else None
            if kept is not None and await self._sent_on(kept, message, stale_ok=True):
                return
            client = _client(self.config)
            await client.connect()
            await self._sent_on(client, message, stale_ok=False)

    async def close(self) -> None:
        """Say goodbye on the kept connections."""
        while self._idle:
            client = self._idle.pop()
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()

    async def _sent_on(self, client: aiosmtplib.SMTP, message: Message, *, stale_ok: bool) -> bool:
        """Send on `client` and keep it; False if it turned out closed and `stale_ok`."""
        try:
            await client.send_message(message)
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
            client.close()
            if stale_ok:
                return False
            raise
        except aiosmtplib.SMTPResponseException as refused:
            client.close()
            # Relays answer 421 to the next command on a connection they timed out.
            if stale_ok and refused.code == SERVICE_CLOSING:
                return False
            raise
        except BaseException:
            client.close()
            raise
        self._idle.append(client)
        return True


def _client(config: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        tls_context=ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None,
        timeout=config.timeout,
    )
