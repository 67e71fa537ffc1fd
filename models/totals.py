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
    """What portfolio views read of one measure: its EBITDA figures over all months and lines,
    its first open milestone, and the package, business unit and legal entity under which its
    months are counted in `PackageMonthTotal` (0: none; `counted` false: not counted, as for a
    cancelled measure)."""

    __tablename__ = "measure_summary"

    measure_id: int = Field(
        sa_column=Column(Integer, ForeignKey("measure.id", ondelete="CASCADE"), primary_key=True)
    )
    plan: int = Field(sa_column=_units())
    achieved: int = Field(sa_column=_units())
    verified: int = Field(sa_column=_units())
    first_open: date | None = None
    package_id: int = Field(sa_column=Column(Integer, nullable=False))
    business_unit_id: int = Field(sa_column=Column(Integer, nullable=False))
    legal_entity_id: int = Field(sa_column=Column(Integer, nullable=False))
    counted: bool = False


class PackageMonthTotal(SQLModel, table=True):
    """The EBITDA figures of one month, added up over the measures of one package, business
    unit and legal entity (0: none) that are not cancelled: the dashboard's month series reads
    these rows instead of one per measure and month. Rows that add up to nothing are removed."""

    __tablename__ = "package_month_total"

    package_id: int = Field(primary_key=True)
    business_unit_id: int = Field(primary_key=True)
    legal_entity_id: int = Field(primary_key=True)
    period: date = Field(primary_key=True)
    plan: int = Field(sa_column=_units())
    achieved: int = Field(sa_column=_units())
    verified: int = Field(sa_column=_units())
