"""Reading what the dev SMTP catcher caught (a Maildir), for the dev-only /mail page."""

from __future__ import annotations

import email.policy
import mailbox
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

_parser = BytesParser(policy=email.policy.default)


@dataclass(frozen=True)
class CaughtMail:
    key: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "").strip()

    @property
    def recipients(self) -> str:
        return str(self.message["X-RcptTo"] or self.message["To"] or "")

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
