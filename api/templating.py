"""The page templates (Jinja2, autoescaped)."""

from pathlib import Path

from fastapi.templating import Jinja2Templates

from models.money import format_money

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["money"] = format_money
