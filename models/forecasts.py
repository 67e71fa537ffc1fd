"""Forecasts someone stands behind: from the Decided gate until closure the owner confirms or
revises the measure's forecast every month. A forecast confirmed neither this calendar month nor
the one before is unconfirmed, and the measure's value light is amber at best until it is
confirmed again. The one rule the pages, roll-ups, search attributes and the monthly review
read."""

from __future__ import annotations

from datetime import date, timedelta

from models.stages import Stage

# The stages in which owners are asked, each month, to confirm or revise their forecasts.
ASKED_IN = (Stage.DECIDED, Stage.IMPLEMENTED)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (_month_start(day) + timedelta(days=32)).replace(day=1)


def stale_before(today: date) -> date:
    """A forecast last confirmed before this day is unconfirmed on `today`: the first day of the
    previous calendar month."""
    return _month_start(_month_start(today) - timedelta(days=1))


def due_by(confirmed_on: date) -> date:
    """The last day a confirmation made on `confirmed_on` holds: the end of the next month."""
    return _next_month(_next_month(confirmed_on)) - timedelta(days=1)


def unconfirmed(confirmed_on: date | None, *, today: date) -> bool:
    """Whether a forecast last confirmed on `confirmed_on` (None: not asked for) is unconfirmed
    on `today`."""
    return confirmed_on is not None and confirmed_on < stale_before(today)
