"""The page templates (Jinja2, autoescaped)."""

from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from models.money import format_money, minor_digits

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["money"] = format_money


def plain_amount(amount: Decimal | None, currency: str) -> str:
    """An amount as an editor types it: no symbol, no separators, the currency's decimals."""
    if amount is None:
        return ""
    return f"{amount.quantize(Decimal(1).scaleb(-minor_digits(currency))):f}"


templates.env.filters["plain_amount"] = plain_amount


def plain_error(error: Any) -> str:
    """One pydantic validation error as a sentence for a page: 'review date: …'."""
    field = ".".join(str(part) for part in error["loc"])
    return f"{field.replace('_', ' ')}: {error['msg']}"
