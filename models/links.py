"""Signed links in emails: each lets one person take one action on one gate of one measure, once.

Only the SHA-256 of the token is stored; the token itself exists in the email alone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import EnumText, UTCDateTime, utcnow


class LinkAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    VERIFY = "verify"  # the controller confirms the verified figures and so closes the measure

    @property
    def label(self) -> str:
        return {"approve": "Approve", "reject": "Reject", "verify": "Verify figures"}[self.value]


class LinkState(StrEnum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class SignedLink(SQLModel, table=True):
    __tablename__ = "signed_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    gate_round: int
    action: LinkAction = Field(sa_type=EnumText(LinkAction, 10))
    person_id: int = Field(foreign_key="person.id")
    # The outbox email the link went out in: sending that email again replaces its links.
    email_key: str = Field(max_length=300, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoke_reason: str | None = Field(default=None, max_length=300)

    def state(self, now: datetime) -> LinkState:
        """What this link can still do at `now`."""
        if self.used_at is not None:
            return LinkState.USED
        if self.revoked_at is not None:
            return LinkState.REVOKED
        if self.expires_at <= now:
            return LinkState.EXPIRED
        return LinkState.VALID
