"""The append-only, hash-chained audit trail: the table and the pure chain arithmetic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.channels import Channel
from models.columns import EnumText, UTCDateTime

__all__ = ["Actor", "AuditEvent", "Channel"]

GENESIS_HASH = "0" * 64


class Actor(BaseModel):
    """Who made a change, and through which channel."""

    person_id: int | None = None
    label: str
    channel: Channel

    @classmethod
    def person(cls, person_id: int | None, channel: Channel) -> Actor:
        """A person acting through `channel`."""
        return cls(person_id=person_id, label=f"person:{person_id}", channel=channel)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    # Assigned by the writer holding the chain head's lock: 1, 2, 3, ... without gaps.
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    actor_id: int | None = None
    actor: str = Field(max_length=320)
    channel: Channel = Field(sa_type=EnumText(Channel))
    entity_type: str = Field(max_length=40, index=True)
    entity_id: str = Field(max_length=64, index=True)
    action: str = Field(max_length=60)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    reason: str | None = Field(default=None, max_length=2000)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The single row naming the chain's last event; writers lock it to append in order."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int = 0
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)


_PLAIN = {str, int, bool, float}


def to_json_value(value: Any) -> Any:
    """Plain JSON data for a fact: Decimals and dates become strings, exactly."""
    if value is None or type(value) in _PLAIN:  # the common case first: this runs per value
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | date | datetime):
        return value.isoformat() if isinstance(value, date | datetime) else str(value)
    return value


def event_hash(event: AuditEvent) -> str:
    """The hash that seals `event` to its predecessor."""
    return sealed_hash({name: getattr(event, name) for name in SEALED})


SEALED = (
    "id", "occurred_at", "actor_id", "actor", "channel", "entity_type", "entity_id", "action",
    "before", "after", "reason", "prev_hash",
)  # fmt: skip


def sealed_hash(fields: Mapping[str, Any]) -> str:
    """The hash of an event's sealed fields (`SEALED`), as stored."""
    sealed = {name: fields[name] for name in SEALED}
    sealed["occurred_at"] = fields["occurred_at"].isoformat()
    sealed["channel"] = str(fields["channel"])
    canonical = json.dumps(sealed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ChainProblem(BaseModel):
    event_id: int
    problem: str
