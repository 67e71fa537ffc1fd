"""The page templates (Jinja2, autoescaped)."""

from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from models.money import format_money, minor_digits
from services.errors import InvalidInput

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["money"] = format_money


def plain_amount(amount: Decimal | None, currency: str) -> str:
    """An amount as an editor types it: no symbol, no separators, the currency's decimals."""
    if amount is None:
        return ""
    return f"{amount.quantize(Decimal(1).scaleb(-minor_digits(currency))):f}"


templates.env.filters["plain_amount"] = plain_amount


def plain_error(error: Any) -> str:
    """One pydantic validation error as a sentence a person reads on a page: 'Review date:
    enter a date such as 2027-03-31.' (pydantic's own wording is for programmers)."""
    names = [str(part) for part in error.get("loc", ()) if isinstance(part, str)]
    field = names[-1].replace("_", " ").capitalize() if names and names[-1] != "body" else ""
    said = _plain_message(error)
    return f"{field}: {said}" if field else said[:1].upper() + said[1:]


def _plain_message(error: Any) -> str:
    kind, context = str(error.get("type", "")), error.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and context.get("min_length") == 1):
        return "this is required."
    if kind == "string_too_short":
        return f"needs at least {context.get('min_length')} characters."
    if kind == "string_too_long":
        return f"may have at most {context.get('max_length')} characters."
    if kind.startswith("date") or kind.startswith("datetime"):
        return "enter a date such as 2027-03-31."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "enter a whole number."
    if kind in ("enum", "literal_error"):
        return "choose one of the options."
    if kind == "decimal_max_places":
        return f"may have at most {context.get('decimal_places')} decimal places."
    if kind == "finite_number":
        return "enter a finite number."
    if kind.startswith("decimal") or kind.startswith("float"):
        return "enter a number such as 1250.50."
    if kind == "greater_than":
        return f"must be more than {context.get('gt')}."
    if kind == "greater_than_equal":
        return f"must be at least {context.get('ge')}."
    if kind == "less_than":
        return f"must be less than {context.get('lt')}."
    if kind == "less_than_equal":
        return f"must be at most {context.get('le')}."
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if "email address" in message:
        return "enter a valid email address such as anna@example.com."
    return message.rstrip(".") + "."


def field_errors(error: Exception) -> dict[str, str]:
    """A form's mistakes as sentences keyed by field, from pydantic's ValidationError or the
    services' InvalidInput, to show next to each field."""
    if isinstance(error, ValidationError):
        return {
            (str(e["loc"][0]) if e["loc"] else "form"): plain_error({**e, "loc": ()})
            for e in error.errors()
        }
    if isinstance(error, InvalidInput):
        return {p.field: p.message[:1].upper() + p.message[1:] + "." for p in error.problems}
    raise TypeError(error)
