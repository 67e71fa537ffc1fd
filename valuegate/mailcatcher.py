"""The local SMTP catcher for development: an aiosmtpd server that keeps every message in a
Maildir, and the reader behind the app's /mail page."""

from __future__ import annotations

import email.policy
import mailbox
import signal
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

_parser = BytesParser(policy=email.policy.default)


class MaildirHandler:
    """Accept every message and store it, with its envelope recipients, in a Maildir."""

    def __init__(self, folder: Path) -> None:
        self.maildir = mailbox.Maildir(folder, create=True)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        headers = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        self.maildir.add(headers + content)
        return "250 Message accepted"


def start_catcher(folder: Path, *, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the catcher in a background thread; call `.stop()` on the result to end it."""
    controller = Controller(MaildirHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


def run_catcher(folder: Path, *, port: int) -> None:
    """Run the catcher in the foreground until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    controller = start_catcher(folder, port=port)
    print(f"valuegate mail-catcher: SMTP on 127.0.0.1:{port}, mail kept in {folder}", flush=True)
    stop.wait()
    controller.stop()


@dataclass(frozen=True)
class CaughtMail:
    key: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "").strip()

    @property
    def recipients(self) -> str:
        return str(self.message["X-Envelope-To"] or self.message["To"] or "")

    @property
    def sent_at(self) -> str:
        date = self.message["Date"]
        return parsedate_to_datetime(str(date)).strftime("%Y-%m-%d %H:%M:%S") if date else ""

    def body(self, subtype: str) -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else None


def read_caught(folder: Path) -> list[CaughtMail]:
    """Every caught message, newest first."""
    if not folder.exists():
        return []
    box = mailbox.Maildir(folder, create=False)
    caught = []
    for key in box.iterkeys():
        message = _parser.parsebytes(box.get_bytes(key))
        caught.append((box.get_message(key).get_date(), CaughtMail(key=key, message=message)))
    return [mail for _, mail in sorted(caught, key=lambda pair: pair[0], reverse=True)]
