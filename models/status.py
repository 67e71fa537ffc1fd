"""The dual status of a measure: delivery (milestones) and value (potential), computed one way."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

AMBER_OVERDUE_DAYS = 14
GREEN_ATTAINMENT = Decimal("0.95")
AMBER_ATTAINMENT = Decimal("0.80")


class Light(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NONE = "none"  # nothing to judge yet (no milestones, or no plan)


def implementation_status(open_milestone_dates: Iterable[date], *, today: date) -> Light:
    """Green when no open milestone is overdue, amber up to 14 days overdue, red beyond."""
    dates = list(open_milestone_dates)
    overdue = [(today - planned).days for planned in dates if planned < today]
    if not overdue:
        return Light.GREEN
    return Light.AMBER if max(overdue) <= AMBER_OVERDUE_DAYS else Light.RED


def achieved(forecast: Mapping[K, Decimal], actual: Mapping[K, Decimal]) -> Decimal:
    """The value reached: the actual where one is entered, else the forecast, per impact line
    and month (the keys), added up."""
    return sum(
        (actual.get(k, forecast.get(k, Decimal(0))) for k in forecast.keys() | actual.keys()),
        Decimal(0),
    )


def plan_attainment(plan: Decimal, achieved: Decimal) -> Decimal | None:
    """Achieved (actual, else forecast) as a share of plan; None without a positive plan."""
    if plan <= 0:
        return None
    return achieved / plan


def potential_status(plan: Decimal, achieved: Decimal) -> Light:
    """Green at 95 % of plan or more, amber from 80 %, red below."""
    attainment = plan_attainment(plan, achieved)
    if attainment is None:
        return Light.NONE
    if attainment >= GREEN_ATTAINMENT:
        return Light.GREEN
    return Light.AMBER if attainment >= AMBER_ATTAINMENT else Light.RED


def rolled_up_delivery(late_weight: Decimal, red_weight: Decimal, total_weight: Decimal) -> Light:
    """The delivery status of a group of measures, weighted by their planned value: green when
    at least 95 % of the value is on time, red when less than 80 % is within 14 days of its
    milestones, amber otherwise (the value thresholds, applied to delivery)."""
    if total_weight <= 0:
        return Light.NONE
    if total_weight - red_weight < total_weight * AMBER_ATTAINMENT:
        return Light.RED
    if total_weight - late_weight < total_weight * GREEN_ATTAINMENT:
        return Light.AMBER
    return Light.GREEN
