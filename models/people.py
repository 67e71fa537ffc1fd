"""People: everyone who owns, sponsors, controls or decides on measures."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    active: bool = True
