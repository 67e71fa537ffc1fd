"""People: everyone who owns, sponsors, controls or decides on measures."""

from __future__ import annotations

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    active: bool = True
    # argon2 (pwdlib); None: the person cannot sign in (e.g. only acts from emailed links).
    password_hash: str | None = Field(default=None, max_length=200)
    is_admin: bool = False


class PersonPublic(SQLModel):
    id: int
    email: str
    name: str
    active: bool
    is_admin: bool


class PersonCreate(SQLModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str | None = Field(default=None, min_length=12, max_length=200)
    is_admin: bool = False


class PersonUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None
    is_admin: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=200)
