"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import BigInteger, DateTime, Dialect, String
from sqlalchemy.types import TypeDecorator

from models.money import MAX_ABS_AMOUNT, STORAGE_DECIMALS, STORAGE_SCALE

# The largest row id (INTEGER on PostgreSQL): larger ids in input are refused, not overflowed.
MAX_ID = 2**31 - 1


class MoneyType(TypeDecorator[Decimal]):
    """A Decimal stored as a whole number of 1/10,000 units.

    SQLite's NUMERIC goes through float (123456789012345.1234 came back as ...1250), so money is
    an integer on both databases: exact storage, exact SUM() in SQL, no float anywhere.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, not float")
        amount = value if isinstance(value, Decimal) else Decimal(value)
        if not amount.is_finite() or abs(amount) >= MAX_ABS_AMOUNT:
            raise ValueError(f"amount out of range: {amount}")
        scaled = amount.scaleb(STORAGE_DECIMALS)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more than {STORAGE_DECIMALS} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / STORAGE_SCALE).quantize(Decimal(1).scaleb(-STORAGE_DECIMALS))


class RateType(TypeDecorator[Decimal]):
    """An exchange rate (a positive Decimal with up to 10 decimal places), stored as a whole
    number of 1/10^10 units for the same reason as money: exact on both databases."""

    impl = BigInteger
    cache_ok = True
    DECIMALS = 10

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("rates must be Decimal, not float")
        scaled = Decimal(value).scaleb(self.DECIMALS)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.DECIMALS} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.DECIMALS).normalize()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E]):
    """A StrEnum stored as its text value and loaded back as the enum member."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, self.enum):
            return value.value
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)
