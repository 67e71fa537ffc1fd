"""The dual status of a measure: delivery (milestones) and value (potential), computed one way."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import TypeVar

from models.forecasts import due_by

K = TypeVar("K", bound=Hashable)

AMBER_OVERDUE_DAYS = 14
GREEN_ATTAINMENT = Decimal("0.95")
AMBER_ATTAINMENT = Decimal("0.80")
NOTHING_TO_JUDGE = "no measures to judge"
NO_PLAN = "no planned EBITDA effect to measure against"
FORECAST_NOT_CONFIRMED = "forecast not confirmed"


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


@dataclass(frozen=True)
class Judged:
    """A light with the rule that decided it and the numbers the rule looked at."""

    light: Light
    reason: str


def _percent(share: Decimal) -> str:
    """A share as whole percent, rounded down: 94.9 % reads "94 %", as it is below 95 %."""
    return f"{(share * 100).to_integral_value(rounding=ROUND_FLOOR)} %"


def judge_delivery(first_open: date | None, *, today: date) -> Judged:
    """The delivery light (`implementation_status`) of a measure whose earliest open milestone
    is due on `first_open` (None: no open milestone), with why."""
    light = implementation_status([first_open] if first_open else [], today=today)
    if first_open is None:
        return Judged(light, "no open milestone")
    late = (today - first_open).days
    if late <= 0:
        return Judged(light, f"no open milestone overdue (the next is due {first_open:%d %b %Y})")
    days = "1 day" if late == 1 else f"{late} days"
    rule = (
        f"amber up to {AMBER_OVERDUE_DAYS} days"
        if light is Light.AMBER
        else f"red beyond {AMBER_OVERDUE_DAYS} days"
    )
    return Judged(light, f"a milestone due {first_open:%d %b %Y} is {days} overdue, {rule}")


def judge_value(
    plan: Decimal, achieved: Decimal, *, unconfirmed_since: date | None = None
) -> Judged:
    """The value light (`potential_status`) of `achieved` against `plan`, with why.

    `unconfirmed_since`: the day the forecast was last confirmed, when that is too long ago
    (models.forecasts): the light is amber at best."""
    light = potential_status(plan, achieved)
    attainment = plan_attainment(plan, achieved)
    if attainment is None:
        return Judged(light, NO_PLAN)
    reached = f"{_percent(attainment)} of plan achieved (actual where entered, else forecast)"
    green, amber = _percent(GREEN_ATTAINMENT), _percent(AMBER_ATTAINMENT)
    rule = {
        Light.GREEN: f"at least {green}",
        Light.AMBER: f"below {green}, at least {amber}",
        Light.RED: f"below {amber}",
    }[light]
    judged = f"{reached}, {rule}"
    if unconfirmed_since is None:
        return Judged(light, judged)
    stale = (
        f"{FORECAST_NOT_CONFIRMED} since {unconfirmed_since:%d %b %Y} "
        f"(due by {due_by(unconfirmed_since):%d %b %Y})"
    )
    if light is Light.GREEN:
        return Judged(Light.AMBER, f"{stale}, amber until it is; {judged}")
    return Judged(light, f"{judged}; {stale}")


def judge_rolled_up_value(
    plan: Decimal, achieved: Decimal, *, weight: Decimal, unconfirmed_weight: Decimal
) -> Judged:
    """The value light of a group (`judge_value` of its totals), amber at best while less than
    95 % of its planned value (`weight`: the positive plans) has a confirmed forecast."""
    judged = judge_value(plan, achieved)
    if unconfirmed_weight <= 0 or weight <= 0:
        return judged
    confirmed = (weight - unconfirmed_weight) / weight
    said = f"{_percent(confirmed)} of planned value has a confirmed forecast"
    if judged.light is Light.GREEN and confirmed < GREEN_ATTAINMENT:
        return Judged(Light.AMBER, f"{said}, below {_percent(GREEN_ATTAINMENT)}; {judged.reason}")
    return Judged(judged.light, f"{judged.reason}; {said}")


def judge_rolled_up_delivery(
    late_weight: Decimal, red_weight: Decimal, total_weight: Decimal, *, of: str
) -> Judged:
    """`rolled_up_delivery` with why; `of` names what the weights count ("planned value")."""
    light = rolled_up_delivery(late_weight, red_weight, total_weight)
    if total_weight <= 0:
        return Judged(light, NOTHING_TO_JUDGE)
    on_time = _percent((total_weight - late_weight) / total_weight)
    within = _percent((total_weight - red_weight) / total_weight)
    green, amber = _percent(GREEN_ATTAINMENT), _percent(AMBER_ATTAINMENT)
    days = f"within {AMBER_OVERDUE_DAYS} days of its milestones"
    reason = {
        Light.GREEN: f"{on_time} of {of} on time, at least {green}",
        Light.AMBER: f"{on_time} of {of} on time, below {green}; {within} {days}, at least {amber}",
        Light.RED: f"{within} of {of} {days}, below {amber}",
    }[light]
    return Judged(light, reason)


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
