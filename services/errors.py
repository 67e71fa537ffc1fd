"""Errors the services raise for the API to turn into clear answers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class InvalidInput(Exception):
    """The request cannot be carried out as sent; nothing was written."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class NotFound(Exception):
    """The named thing does not exist."""


class Conflict(Exception):
    """The change collides with what is there (a taken email or code); nothing was written."""


class Forbidden(Exception):
    """The person may not do this; nothing was written."""
