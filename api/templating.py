"""The page templates (Jinja2, autoescaped)."""

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from models.money import format_money

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["money"] = format_money


def plain_error(error: Any) -> str:
    """One pydantic validation error as a sentence for a page: 'review date: …'."""
    field = ".".join(str(part) for part in error["loc"])
    return f"{field.replace('_', ' ')}: {error['msg']}"
