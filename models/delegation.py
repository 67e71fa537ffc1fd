"""Delegations: while a person is away, a deputy they named acts for them on gate approvals,
each decision recorded on behalf of the person."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as Check
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import UTCDateTime, utcnow

# The longest absence one delegation covers; a longer one is named again.
MAX_DAYS = 366


class Delegation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    deputy_id: int = Field(foreign_key="person.id", index=True)
    # Both days included, in the organisation's calendar (UTC).
    starts_on: date
    ends_on: date
    created_by: int = Field(foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: int | None = Field(default=None, foreign_key="person.id")

    def active_on(self, day: date) -> bool:
        return self.revoked_at is None and self.starts_on <= day <= self.ends_on


class DelegationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deputy_id: int = Check(gt=0, lt=2**31, description="The person who acts in your place.")
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _a_real_range(self) -> DelegationCreate:
        if self.ends_on < self.starts_on:
            raise ValueError("the delegation must end on or after the day it starts")
        if (self.ends_on - self.starts_on).days >= MAX_DAYS:
            raise ValueError(f"a delegation covers at most {MAX_DAYS} days")
        return self


class DelegationPublic(BaseModel):
    id: int
    person_id: int
    person_name: str
    deputy_id: int
    deputy_name: str
    starts_on: date
    ends_on: date
    created_by: int
    revoked_at: datetime | None
    active_today: bool
