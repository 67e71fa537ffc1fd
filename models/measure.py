"""The measure — the atomic unit of value work — as a table and as API shapes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import MAX_ID, EnumText, MoneyType, UTCDateTime, utcnow
from models.money import AMOUNT_LIMIT, STORAGE_DECIMALS
from models.stages import Stage
from models.status import Light

DEFAULT_HORIZON_MONTHS = 24


class MeasureBase(SQLModel):
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=5000)
    package_id: int = Field(foreign_key="measure_package.id", index=True, ge=1, le=MAX_ID)
    owner_id: int | None = Field(default=None, foreign_key="person.id", ge=1, le=MAX_ID)
    sponsor_id: int | None = Field(default=None, foreign_key="person.id", ge=1, le=MAX_ID)
    controller_id: int | None = Field(default=None, foreign_key="person.id", ge=1, le=MAX_ID)
    business_unit_id: int | None = Field(
        default=None, foreign_key="business_unit.id", ge=1, le=MAX_ID
    )
    legal_entity_id: int | None = Field(
        default=None, foreign_key="legal_entity.id", ge=1, le=MAX_ID
    )
    plan_start: date | None = Field(
        default=None, description="First month of the plan horizon (the day is ignored)."
    )
    horizon_months: int = Field(default=DEFAULT_HORIZON_MONTHS, ge=1, le=120)
    baseline_amount: Decimal | None = Field(
        default=None,
        sa_type=MoneyType,
        gt=-AMOUNT_LIMIT,
        lt=AMOUNT_LIMIT,
        decimal_places=STORAGE_DECIMALS,
        description="Today's annual cost or revenue the measure changes.",
    )
    baseline_period: str | None = Field(default=None, max_length=40, description="e.g. FY2026")
    baseline_source: str | None = Field(
        default=None, max_length=500, description="Where the baseline comes from."
    )

    @field_validator("plan_start")
    @classmethod
    def _first_of_month(cls, value: date | None) -> date | None:
        return value.replace(day=1) if value else None


class Measure(MeasureBase, table=True):
    # AUTOINCREMENT on SQLite: an id is never reused, so neither is its workflow id.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    stage: Stage = Field(default=Stage.DEFINED, sa_type=EnumText(Stage), index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    hold_reason: str | None = Field(default=None, max_length=2000)
    hold_review_date: date | None = None
    cancel_reason: str | None = Field(default=None, max_length=2000)
    # Set when the Decided gate passes: the plan becomes baseline version 1 and is read-only.
    plan_frozen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    plan_version: int = 0
    # The day the owner last confirmed or revised the forecast (the Decided gate counts as one);
    # models.forecasts says when that is too long ago.
    forecast_confirmed_on: date | None = None
    # The id the measure has in the organization's own files (an import matches rows by it).
    external_id: str | None = Field(default=None, max_length=80, index=True)


class MeasureCreate(MeasureBase):
    """What a client sends to create a measure."""


class MeasureUpdate(SQLModel):
    """What a client may change on a measure: the fields it sends (a null clears one that may
    be empty). Its package stays: it decides the portfolio, the policy and who sees it."""

    model_config = {"extra": "forbid"}

    title: str | None = Field(default=None, min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    owner_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    sponsor_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    controller_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    business_unit_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    legal_entity_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    plan_start: date | None = None
    horizon_months: int | None = Field(default=None, ge=1, le=120)
    baseline_amount: Decimal | None = Field(
        default=None, gt=-AMOUNT_LIMIT, lt=AMOUNT_LIMIT, decimal_places=STORAGE_DECIMALS
    )
    baseline_period: str | None = Field(default=None, max_length=40)
    baseline_source: str | None = Field(default=None, max_length=500)

    @field_validator("plan_start")
    @classmethod
    def _first_of_month(cls, value: date | None) -> date | None:
        return value.replace(day=1) if value else None


# Fixed once the Decided gate froze the plan: its currency, horizon and baseline.
FROZEN_AT_DECIDED = (
    "legal_entity_id", "plan_start", "horizon_months", "baseline_amount", "baseline_period",
    "baseline_source",
)  # fmt: skip
# Never empty once given: a measure always has a title and a horizon.
REQUIRED = ("title", "horizon_months")


class MeasurePublic(MeasureBase):
    """A measure as the API shows it."""

    id: int
    stage: Stage
    workflow_id: str
    implementation_status: Light
    potential_status: Light
    forecast_confirmed_on: date | None = Field(
        default=None,
        description="The day the owner last confirmed or revised the forecast (from Decided).",
    )
    created_at: datetime
    updated_at: datetime


def workflow_id_for(measure_id: int) -> str:
    """The id of the measure's lifecycle workflow."""
    return f"measure-{measure_id}"
