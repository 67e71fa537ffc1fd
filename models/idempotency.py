"""Idempotency keys, Stripe's way: a key belongs to one person and one request. The same person
sending the same request with the same key gets the first answer; anyone else's key is their
own; the same key with a different request is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import UTCDateTime, utcnow


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("person_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    key: str = Field(max_length=200)
    # What the key was first used for ("create_measure", "decide_gate:measure-7") and a hash of
    # that request's body: the same key with another request is refused.
    operation: str = Field(max_length=80)
    fingerprint: str = Field(max_length=64)
    # The measure a create made, so a retry answers with it.
    measure_id: int | None = Field(default=None, foreign_key="measure.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
