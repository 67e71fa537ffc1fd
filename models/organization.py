"""The hierarchy (Organization > Portfolio > Program > Project > Measure Package) and the
orthogonal dimensions every measure carries (business unit, legal entity)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.base import metadata as _metadata  # noqa: F401  (naming convention first)
from models.columns import MAX_ID, MoneyType
from models.money import CURRENCIES, MAX_ABS_AMOUNT, STORAGE_DECIMALS


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


# API shapes -------------------------------------------------------------------------------------

Name = Annotated[str, PydanticField(min_length=1, max_length=200)]
ParentId = Annotated[int, PydanticField(ge=1, le=MAX_ID)]


def _currency_code(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


CurrencyCode = Annotated[
    str,
    PydanticField(min_length=3, max_length=3, examples=["EUR"]),
    AfterValidator(_currency_code),
]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class OrganizationCreate(_Shape):
    name: Name
    group_currency: CurrencyCode


class PortfolioCreate(_Shape):
    organization_id: ParentId
    name: Name
    steering_threshold: Decimal = PydanticField(
        default=Decimal(1_000_000), ge=0, lt=MAX_ABS_AMOUNT, decimal_places=STORAGE_DECIMALS
    )


class ProgramCreate(_Shape):
    portfolio_id: ParentId
    name: Name


class ProjectCreate(_Shape):
    program_id: ParentId
    name: Name


class PackageCreate(_Shape):
    project_id: ParentId
    name: Name


class Rename(_Shape):
    name: Name


class OrganizationPublic(OrganizationCreate):
    id: int


class PortfolioPublic(PortfolioCreate):
    id: int


class ProgramPublic(ProgramCreate):
    id: int


class ProjectPublic(ProjectCreate):
    id: int


class PackagePublic(PackageCreate):
    id: int


class BusinessUnitCreate(_Shape):
    organization_id: ParentId
    code: Annotated[str, PydanticField(min_length=1, max_length=20)]
    name: Name


class BusinessUnitPublic(BusinessUnitCreate):
    id: int


class LegalEntityCreate(BusinessUnitCreate):
    currency: CurrencyCode


class LegalEntityPublic(LegalEntityCreate):
    id: int
