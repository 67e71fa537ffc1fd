"""Signed-in browser sessions and personal API tokens; for both only a SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import UTCDateTime, utcnow


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiTokenPublic(SQLModel):
    """A token as its owner sees it listed (never the token itself)."""

    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenPublic):
    token: str  # shown once, at creation


class PortfolioManager(SQLModel, table=True):
    """A portfolio manager (PMO) sees the portfolio's measures and sets its gate policy."""

    __tablename__ = "portfolio_manager"

    portfolio_id: int = Field(foreign_key="portfolio.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
