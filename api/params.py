"""Path parameters shared by the routes: row ids the databases can hold (a larger number is a
422, not a database overflow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from models.columns import MAX_ID

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id.")]
