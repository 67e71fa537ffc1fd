"""Gate policies per portfolio, steering committees, gates with their decisions, and the ledger
of lifecycle facts that makes every activity write idempotent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.base import metadata as _metadata  # noqa: F401
from models.columns import EnumText, UTCDateTime, utcnow
from models.policy import Role
from models.stages import Stage


class GatePolicyVersion(SQLModel, table=True):
    """One version of a portfolio's gate policy; the highest version is current."""

    __tablename__ = "gate_policy"
    __table_args__ = (UniqueConstraint("portfolio_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    portfolio_id: int = Field(foreign_key="portfolio.id", index=True)
    version: int
    document: dict[str, Any] = Field(sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SteeringMember(SQLModel, table=True):
    __tablename__ = "steering_member"

    portfolio_id: int = Field(foreign_key="portfolio.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)


class GateStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Gate(SQLModel, table=True):
    """A submitted gate: from submission to approval, rejection or withdrawal."""

    __table_args__ = (UniqueConstraint("measure_id", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    round: int
    target: Stage = Field(sa_type=EnumText(Stage))
    submitted_by: int = Field(foreign_key="person.id")
    submitted_at: datetime = Field(sa_type=UTCDateTime)
    policy_version: int
    required: list[str] = Field(sa_type=JSON)
    criteria_checked: list[str] = Field(sa_type=JSON)
    status: GateStatus = Field(default=GateStatus.OPEN, sa_type=EnumText(GateStatus))
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    close_reason: str | None = Field(default=None, max_length=2000)


class GateDecisionRecord(SQLModel, table=True):
    __tablename__ = "gate_decision"
    __table_args__ = (UniqueConstraint("gate_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    gate_id: int = Field(foreign_key="gate.id", index=True)
    role: Role = Field(sa_type=EnumText(Role))
    person_id: int = Field(foreign_key="person.id")
    # A deputy's decision: the person it was taken for (person_id is the deputy).
    on_behalf_of: int | None = Field(default=None, foreign_key="person.id")
    approve: bool
    comment: str = Field(default="", max_length=2000)
    decided_at: datetime = Field(sa_type=UTCDateTime)


class LifecycleEvent(SQLModel, table=True):
    """The ledger of lifecycle facts: a fact's key is written once, so a retried activity or a
    redelivered message changes nothing the second time."""

    __tablename__ = "lifecycle_event"
    __table_args__ = (UniqueConstraint("measure_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    key: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
