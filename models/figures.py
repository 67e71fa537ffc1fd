"""The money side of a measure: impact lines with monthly values per scenario, and milestones."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.base import metadata as _metadata  # noqa: F401
from models.columns import MAX_ID, EnumText, MoneyType
from models.money import Amount, ImpactCategory, Scenario


class ImpactLine(SQLModel, table=True):
    __tablename__ = "impact_line"

    id: int | None = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    category: ImpactCategory = Field(sa_type=EnumText(ImpactCategory))
    description: str = Field(max_length=500)
    # Estimated annual potential in the legal entity's currency (criterion for gate Identified).
    annual_potential: Decimal | None = Field(default=None, sa_type=MoneyType)
    # The line's key in the organization's import files, unique within its measure.
    external_id: str | None = Field(default=None, max_length=80)


class MonthlyValue(SQLModel, table=True):
    __tablename__ = "monthly_value"
    __table_args__ = (UniqueConstraint("impact_line_id", "scenario", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    impact_line_id: int = Field(foreign_key="impact_line.id", index=True)
    scenario: Scenario = Field(sa_type=EnumText(Scenario, 10))
    period: date  # the first day of the month
    amount: Decimal = Field(sa_type=MoneyType)


class Milestone(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    title: str = Field(max_length=200)
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    planned_date: date
    done_date: date | None = None
    waived_reason: str | None = Field(default=None, max_length=1000)

    @property
    def is_open(self) -> bool:
        return self.done_date is None and not self.waived_reason


# API shapes -------------------------------------------------------------------------------------


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: ImpactCategory
    description: str = PydanticField(min_length=1, max_length=500)
    annual_potential: Amount | None = PydanticField(
        default=None, description="Estimated annual potential in the legal entity's currency."
    )


class LineOut(LineIn):
    id: int


class LineChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: ImpactCategory | None = None
    description: str | None = PydanticField(default=None, min_length=1, max_length=500)
    annual_potential: Amount | None = PydanticField(
        default=None, description="Estimated annual potential in the legal entity's currency."
    )


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = PydanticField(min_length=1, max_length=200)
    planned_date: date
    owner_id: int | None = PydanticField(default=None, ge=1, le=MAX_ID)


class MilestoneChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = PydanticField(default=None, min_length=1, max_length=200)
    planned_date: date | None = None
    done_date: date | None = None
    waived_reason: str | None = PydanticField(default=None, min_length=1, max_length=1000)


class MilestoneOut(MilestoneIn):
    id: int
    done_date: date | None
    waived_reason: str | None
