"""Which measures a list shows: search, filters, order and page (the API's query parameters and
the measure list page's form alike)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.columns import MAX_ID
from models.stages import Stage
from models.status import Light

Id = Field(default=None, ge=1, le=MAX_ID)
SORTS = ("id", "title", "stage", "created_at", "updated_at", "planned_value")
Sort = Literal[
    "id", "-id", "title", "-title", "stage", "-stage", "created_at", "-created_at",
    "updated_at", "-updated_at", "planned_value", "-planned_value",
]  # fmt: skip


class MeasureQuery(BaseModel):
    """Every filter narrows the list; an unknown parameter is refused, naming it."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(
        default=None, max_length=200, description="Words of the title, or the code (M-12)."
    )
    stage: list[Stage] = Field(default=[], description="One or more stages.")
    delivery: list[Light] = Field(default=[], description="Delivery status (milestones).")
    value: list[Light] = Field(default=[], description="Value status (against plan).")
    overdue: bool = Field(default=False, description="Only measures with a milestone overdue.")
    waiting_for_me: bool = Field(
        default=False, description="Only measures whose open gate awaits your decision."
    )
    organization_id: int | None = Id
    portfolio_id: int | None = Id
    program_id: int | None = Id
    project_id: int | None = Id
    package_id: int | None = Id
    business_unit_id: int | None = Id
    legal_entity_id: int | None = Id
    owner_id: int | None = Id
    sponsor_id: int | None = Id
    controller_id: int | None = Id
    sort: Sort = Field(
        default="-id",
        description="A column; a leading '-' sorts descending. `planned_value`: the plan over "
        "the horizon in the group currency (measures without a rate last).",
    )
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_ID)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_no_filter(cls, value: object) -> object:
        """A form's "All" choice sends an empty value: no filter."""
        if value == "":
            return None
        if isinstance(value, list):
            return [item for item in value if item != ""]
        return value

    @field_validator("q")
    @classmethod
    def _words(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None
