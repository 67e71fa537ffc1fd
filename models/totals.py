"""Totals of each measure's figures, kept beside the monthly values so that portfolio views read
one row per measure (and category) instead of every month of every line.

They are derived data: `services.totals.refresh` rewrites a measure's rows in the same
transaction as every change of its figures, and `valuegate rollup-verify` recomputes them all
from the monthly values. Amounts are in the measure's own currency, as whole 1/10,000 units
(like `MonthlyValue.amount`); conversion into a group currency happens when a view reads them,
with the rates of that day.

`achieved` is what the status rules compare with the plan: month by month and line by line the
actual where one is entered, else the forecast.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import EnumText
from models.money import ImpactCategory
from models.stages import Stage
from models.status import Light


def _units() -> Column[int]:
    return Column(BigInteger, nullable=False, default=0)


class MeasureTotal(SQLModel, table=True):
    """A measure's figures of one impact category, added up over all its months and lines."""

    __tablename__ = "measure_total"

    measure_id: int = Field(
        sa_column=Column(Integer, ForeignKey("measure.id", ondelete="CASCADE"), primary_key=True)
    )
    category: ImpactCategory = Field(sa_type=EnumText(ImpactCategory), primary_key=True)
    plan: int = Field(sa_column=_units())
    forecast: int = Field(sa_column=_units())
    actual: int = Field(sa_column=_units())
    verified: int = Field(sa_column=_units())
    achieved: int = Field(sa_column=_units())


class MeasureMonthTotal(SQLModel, table=True):
    """A measure's figures of one impact category in one month, added up over its lines."""

    __tablename__ = "measure_month_total"

    measure_id: int = Field(
        sa_column=Column(Integer, ForeignKey("measure.id", ondelete="CASCADE"), primary_key=True)
    )
    category: ImpactCategory = Field(sa_type=EnumText(ImpactCategory), primary_key=True)
    period: date = Field(primary_key=True)
    plan: int = Field(sa_column=_units())
    forecast: int = Field(sa_column=_units())
    actual: int = Field(sa_column=_units())
    verified: int = Field(sa_column=_units())
    achieved: int = Field(sa_column=_units())


class MeasureSummary(SQLModel, table=True):
    """One row per measure with all a portfolio view adds up of it: its stage and place, its
    EBITDA figures over all months and lines, its value light (achieved against plan, by the
    rules of models.status), its first open milestone (today decides the delivery light), and
    whether its months are counted in `PackageMonthTotal` (not while it is cancelled) — so a
    view over 100,000 measures reads one narrow table."""

    __tablename__ = "measure_summary"

    measure_id: int = Field(
        sa_column=Column(Integer, ForeignKey("measure.id", ondelete="CASCADE"), primary_key=True)
    )
    stage: Stage = Field(sa_type=EnumText(Stage))
    package_id: int = Field(index=True)
    business_unit_id: int | None = None
    legal_entity_id: int | None = None
    plan: int = Field(sa_column=_units())
    achieved: int = Field(sa_column=_units())
    verified: int = Field(sa_column=_units())
    value: Light = Field(sa_type=EnumText(Light))
    first_open: date | None = None
    counted: bool
    # While owners are asked for forecasts (models.forecasts.ASKED_IN): the day this one's was
    # last confirmed (today decides whether that is too long ago); else None.
    forecast_confirmed_on: date | None = None


class PackageMonthTotal(SQLModel, table=True):
    """The EBITDA figures of one month, added up over the counted measures of one package,
    business unit and legal entity (0: none): the dashboard's month series reads
    these rows instead of one per measure and month. Rows that add up to nothing are removed."""

    __tablename__ = "package_month_total"

    package_id: int = Field(primary_key=True)
    business_unit_id: int = Field(primary_key=True)
    legal_entity_id: int = Field(primary_key=True)
    period: date = Field(primary_key=True)
    plan: int = Field(sa_column=_units())
    achieved: int = Field(sa_column=_units())
    verified: int = Field(sa_column=_units())
