"""The email outbox: one row per email, keyed by its business meaning, sent at most once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import EnumText, UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"


class OutboxEmail(SQLModel, table=True):
    __tablename__ = "outbox_email"

    id: int | None = Field(default=None, primary_key=True)
    # e.g. "measure-12/assigned/owner/3": the same key is never sent twice.
    business_key: str = Field(max_length=300, unique=True)
    measure_id: int | None = Field(default=None, foreign_key="measure.id", index=True)
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=Text)
    html_body: str = Field(sa_type=Text)
    message_id: str = Field(max_length=300)
    # Signed links the bodies carry as placeholders: minted afresh each time the email is sent,
    # so no token is ever stored (see notifications/links.py).
    links: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=EnumText(OutboxStatus, 10))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
