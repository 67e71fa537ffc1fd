"""Money rules: exact Decimal amounts, per-currency minor digits, impact categories.

Everything here is pure; the storage format lives in `models.columns.MoneyType`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from babel.numbers import format_currency, get_currency_precision, list_currencies
from pydantic import Field

# Amounts are stored as integers of 1/10_000 of a currency unit: enough for every ISO 4217
# currency (0, 2 or 3 minor digits) and for FX-converted values, exact on every database.
STORAGE_DECIMALS = 4
STORAGE_SCALE = 10**STORAGE_DECIMALS
MAX_ABS_AMOUNT = Decimal(10) ** 14  # leaves room in a signed 64-bit column for sums

# An amount as the API takes it: finite, below 10^14 in size, at most four decimal places.
# The bounds are in the OpenAPI schema, so clients learn them before the server refuses.
# (Pydantic's Decimal refuses NaN and infinities already.)
AMOUNT_LIMIT = 10**14  # MAX_ABS_AMOUNT as an int, for the schema's bounds
Amount = Annotated[
    Decimal, Field(gt=-AMOUNT_LIMIT, lt=AMOUNT_LIMIT, decimal_places=STORAGE_DECIMALS)
]


class ImpactCategory(StrEnum):
    COST_REDUCTION = "cost_reduction"
    REVENUE_INCREASE = "revenue_increase"
    ONE_TIME_COST = "one_time_cost"
    CAPEX = "capex"

    @property
    def counts_toward_ebitda(self) -> bool:
        return self is not ImpactCategory.CAPEX

    @property
    def is_recurring(self) -> bool:
        return self in (ImpactCategory.COST_REDUCTION, ImpactCategory.REVENUE_INCREASE)


class Scenario(StrEnum):
    PLAN = "plan"
    FORECAST = "forecast"
    ACTUAL = "actual"
    VERIFIED = "verified"


# Read once, at import: Babel loads its data file lazily, and file access is refused inside the
# workflow sandbox, where closure figures are validated.
_MINOR_DIGITS = {code: int(get_currency_precision(code)) for code in list_currencies()}
CURRENCIES = frozenset(_MINOR_DIGITS)


def minor_digits(currency: str) -> int:
    """How many decimal places the currency's amounts have (JPY 0, EUR 2, KWD 3)."""
    return _MINOR_DIGITS.get(currency, 2)


def amount_problem(amount: Decimal, currency: str) -> str | None:
    """Why `amount` is not a valid amount in `currency`, or None when it is."""
    if not amount.is_finite():
        return "amount must be a finite number"
    if abs(amount) >= MAX_ABS_AMOUNT:
        return f"amount must be smaller than {MAX_ABS_AMOUNT:,} in absolute value"
    digits = minor_digits(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        # Trailing zeros do not count (12.500 EUR is fine): look again without them.
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > digits:
            return f"{currency} amounts have at most {digits} decimal places"
    return None


def ebitda_effect(category: ImpactCategory, amount: Decimal) -> Decimal:
    """The EBITDA effect of a value on an impact line (capex has none)."""
    return amount if category.counts_toward_ebitda else Decimal(0)


def format_money(amount: Decimal, currency: str, locale: str = "en_GB") -> str:
    """A human-readable amount, e.g. '€1,234.50'."""
    return str(format_currency(amount, currency, locale=locale))
