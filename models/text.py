"""Text every database can hold (pure)."""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def has_nul(value: Any) -> bool:
    """Whether any text in `value` (nested dicts and lists too) holds the NUL character, which
    PostgreSQL text cannot store."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False
