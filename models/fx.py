"""Exchange rates into an organization's group currency, kept by its admins, and the pure rule
that converts per-currency totals with them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.base import metadata as _metadata  # noqa: F401
from models.columns import RateType, UTCDateTime, utcnow
from models.money import STORAGE_DECIMALS

MAX_RATE = Decimal(1_000_000)
# Converted totals keep the storage precision of money (1/10,000); pages round for display.
PRECISION = Decimal(1).scaleb(-STORAGE_DECIMALS)


class FxRate(SQLModel, table=True):
    """How many units of the group currency one unit of `currency` is worth."""

    __tablename__ = "fx_rate"
    __table_args__ = (UniqueConstraint("organization_id", "currency"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    currency: str = Field(max_length=3)
    rate: Decimal = Field(sa_type=RateType)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RateSet(BaseModel):
    """What an admin sends to set a rate."""

    model_config = {"extra": "forbid"}

    rate: Decimal = PydanticField(
        gt=0,
        lt=MAX_RATE,
        decimal_places=RateType.DECIMALS,
        description="Units of the group currency one unit of this currency is worth.",
    )


class RatePublic(BaseModel):
    currency: str
    rate: Decimal
    updated_at: datetime | None = None


class Converted(BaseModel):
    """A total in the group currency, and the currencies it could not include (no rate)."""

    amount: Decimal
    missing_rates: list[str] = []


def convert(
    totals: Mapping[str, Decimal], rates: Mapping[str, Decimal], group_currency: str
) -> Converted:
    """Add up per-currency totals in the group currency; a currency without a rate is left out
    and named, never guessed."""
    amount = Decimal(0)
    missing: list[str] = []
    for currency, total in sorted(totals.items()):
        if currency == group_currency:
            amount += total
        elif currency in rates:
            amount += total * rates[currency]
        elif total:
            missing.append(currency)
    return Converted(amount=amount.quantize(PRECISION), missing_rates=missing)
