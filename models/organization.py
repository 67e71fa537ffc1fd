"""The hierarchy (Organization > Portfolio > Program > Project > Measure Package) and the
orthogonal dimensions every measure carries (business unit, legal entity)."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.base import metadata as _metadata  # noqa: F401  (naming convention first)
from models.columns import MoneyType


class Organization(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    group_currency: str = Field(max_length=3)


class Portfolio(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    # Planned annual EBITDA impact (group currency) from which Decided needs the steering committee.
    steering_threshold: Decimal = Field(default=Decimal(1_000_000), sa_type=MoneyType)


class Program(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    portfolio_id: int = Field(foreign_key="portfolio.id", index=True)
    name: str = Field(max_length=200)


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    name: str = Field(max_length=200)


class MeasurePackage(SQLModel, table=True):
    __tablename__ = "measure_package"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=200)


class BusinessUnit(SQLModel, table=True):
    __tablename__ = "business_unit"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    code: str = Field(max_length=20)
    name: str = Field(max_length=200)


class LegalEntity(SQLModel, table=True):
    __tablename__ = "legal_entity"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    code: str = Field(max_length=20)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
