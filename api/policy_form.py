"""The gate-policy editor's form read into a GatePolicy, or into what is wrong with it, field by
field, so the page shows each mistake next to its field and publishes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from api.templating import plain_error
from models.policy import (
    TIMING_LABELS,
    UNITS,
    Criterion,
    EscalationTimings,
    GatePolicy,
    Role,
)
from models.stages import Stage

# Closure is approved by the controller alone (GatePolicy says so); every other gate is edited.
EDITABLE = (Stage.IDENTIFIED, Stage.DETAILED, Stage.DECIDED, Stage.IMPLEMENTED)
APPROVERS = (Role.SPONSOR, Role.CONTROLLER, Role.STEERING_COMMITTEE)
LONGEST = timedelta(days=3650)


def criterion_field(stage: Stage, criterion: Criterion) -> str:
    return f"criteria:{stage.value}:{criterion.value}"


def approver_field(stage: Stage, role: Role) -> str:
    return f"approvers:{stage.value}:{role.value}"


def read(form: dict[str, str], current: GatePolicy) -> tuple[GatePolicy | None, dict[str, str]]:
    """The policy the form asks for, or (None, field → sentence) for every mistake."""
    errors: dict[str, str] = {}
    threshold = _number(form, "steering_threshold", errors)
    if threshold is not None and threshold < 0:
        errors["steering_threshold"] = "must be at least 0"
    tolerance = _number(form, "closure_tolerance_percent", errors)
    if tolerance is not None and not 0 <= tolerance <= 100:
        errors["closure_tolerance_percent"] = "enter a percentage between 0 and 100"
    timings = {name: _duration(form, name, errors) for name in TIMING_LABELS}
    at_or_above = None
    if form.get("link_sign_in_at_or_above", "").strip():
        at_or_above = _number(form, "link_sign_in_at_or_above", errors)
        if at_or_above is not None and at_or_above < 0:
            errors["link_sign_in_at_or_above"] = "must be at least 0"
    gates: dict[str, Any] = {
        stage.value: rule.model_dump(mode="json") for stage, rule in current.gates.items()
    }
    if form.get("gates_in_form") == "yes":
        for stage in EDITABLE:
            approvers = [r.value for r in APPROVERS if form.get(approver_field(stage, r))]
            if not approvers:
                errors[f"approvers:{stage.value}"] = "choose at least one approver"
            gates[stage.value] = {
                "criteria": [c.value for c in Criterion if form.get(criterion_field(stage, c))],
                "approvers": approvers,
            }
    if errors:
        return None, errors
    try:
        escalation = EscalationTimings.model_validate(timings)
    except ValidationError as error:
        return None, {"escalation": " ".join(plain_error(e) for e in error.errors())}
    try:
        policy = GatePolicy.model_validate(
            {
                "gates": gates,
                "steering_threshold": threshold,
                "closure_tolerance": (tolerance or Decimal(0)) / 100,
                "escalation": escalation,
                "link_sign_in": {
                    "closure": form.get("link_sign_in_closure") == "on",
                    "at_or_above": at_or_above,
                },
            }
        )
    except ValidationError as error:
        return None, {"form": " ".join(plain_error(e) for e in error.errors())}
    return policy, {}


def _number(form: dict[str, str], name: str, errors: dict[str, str]) -> Decimal | None:
    text = form.get(name, "").strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[name] = "must be a number" if text else "this is required"
        return None
    if not value.is_finite() or abs(value) >= Decimal(10) ** 15:
        errors[name] = "must be a number below 10^15"
        return None
    return value


def _duration(form: dict[str, str], name: str, errors: dict[str, str]) -> timedelta | None:
    """A duration entered as a number of days, hours or minutes (decimals allowed)."""
    unit = form.get(f"{name}_unit", "days")
    if unit not in UNITS:
        errors[name] = "choose days, hours or minutes"
        return None
    amount = _number(form, name, errors)
    if amount is None:
        return None
    seconds = amount * Decimal(UNITS[unit].total_seconds())
    if seconds <= 0 or seconds > Decimal(LONGEST.total_seconds()):
        errors[name] = "must be above 0 and at most 3650 days"
        return None
    return timedelta(microseconds=int(seconds * 1_000_000))
