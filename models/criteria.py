"""Gate criteria, evaluated one way for the workflow, the API's checklist and the emails."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from models.money import ImpactCategory, ebitda_effect
from models.policy import Criterion, GatePolicy, Role
from models.stages import Stage
from models.status import Light


class PeriodAmount(BaseModel):
    period: date
    amount: Decimal


class LineSnapshot(BaseModel):
    id: int
    category: ImpactCategory
    description: str
    annual_potential: Decimal | None = None
    plan: list[PeriodAmount] = []
    actual_periods: list[date] = []


class MilestoneSnapshot(BaseModel):
    id: int
    title: str
    planned_date: date | None
    owner_id: int | None
    done: bool
    waived: bool


class MeasureSnapshot(BaseModel):
    """Everything the criteria look at, read from the database in one go."""

    measure_id: int
    title: str
    stage: Stage
    portfolio_id: int
    owner_id: int | None = None
    sponsor_id: int | None = None
    controller_id: int | None = None
    steering_member_ids: list[int] = []
    business_unit_id: int | None = None
    legal_entity_id: int | None = None
    currency: str | None = None
    # The organization's group currency, and what one unit of `currency` is worth in it (None
    # when no rate is kept; 1 is implied for the group currency itself).
    group_currency: str | None = None
    rate_to_group: Decimal | None = None
    baseline_amount: Decimal | None = None
    baseline_period: str | None = None
    baseline_source: str | None = None
    plan_start: date | None = None
    horizon_months: int = 24
    lines: list[LineSnapshot] = []
    milestones: list[MilestoneSnapshot] = []
    implementation_status: Light = Light.NONE
    potential_status: Light = Light.NONE


class UnmetCriterion(BaseModel):
    code: Criterion
    message: str


def horizon(snapshot: MeasureSnapshot) -> list[date]:
    """The first day of every month in the plan horizon (empty without a plan start)."""
    return plan_months(snapshot.plan_start, snapshot.horizon_months)


def plan_months(start: date | None, count: int) -> list[date]:
    """The first day of each of `count` months from `start`'s (none without a start)."""
    if start is None:
        return []
    return [
        date(start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1, 1)
        for m in range(count)
    ]


def planned_annual_ebitda(snapshot: MeasureSnapshot) -> Decimal:
    """The largest EBITDA effect the plan shows in any 12 consecutive months."""
    months = horizon(snapshot)
    by_month = dict.fromkeys(months, Decimal(0))
    for line in snapshot.lines:
        for value in line.plan:
            if value.period in by_month:
                by_month[value.period] += ebitda_effect(line.category, value.amount)
    series = [by_month[m] for m in months]
    if not series:
        return Decimal(0)
    return max(sum(series[i : i + 12], Decimal(0)) for i in range(max(1, len(series) - 11)))


def _roles_assigned(s: MeasureSnapshot) -> str | None:
    people = {"owner": s.owner_id, "sponsor": s.sponsor_id, "controller": s.controller_id}
    missing = [role for role, person in people.items() if person is None]
    if missing:
        return f"name the {', '.join(missing)}"
    if len(set(people.values())) < 3:
        return "owner, sponsor and controller must be three different people"
    return None


def _impact_estimated(s: MeasureSnapshot) -> str | None:
    if any(line.annual_potential for line in s.lines):
        return None
    return "add at least one impact line with an estimated annual potential"


def _baseline(s: MeasureSnapshot) -> str | None:
    missing = [
        name
        for name, value in (
            ("amount", s.baseline_amount),
            ("period", s.baseline_period),
            ("source", s.baseline_source),
        )
        if value in (None, "")
    ]
    return f"give the baseline's {', '.join(missing)}" if missing else None


def _plan_phased(s: MeasureSnapshot) -> str | None:
    months = horizon(s)
    if not months:
        return "set the plan start"
    phased = {value.period for line in s.lines for value in line.plan}
    missing = [m for m in months if m not in phased]
    if missing:
        return (
            "phase the plan monthly over the horizon "
            f"({len(missing)} of {len(months)} months have no plan value)"
        )
    return None


def _milestones_planned(s: MeasureSnapshot) -> str | None:
    if not s.milestones:
        return "add milestones with dates and owners"
    incomplete = [m.title for m in s.milestones if m.planned_date is None or m.owner_id is None]
    return (
        f"give every milestone a date and an owner ({', '.join(incomplete)})"
        if incomplete
        else None
    )


def _milestones_finished(s: MeasureSnapshot) -> str | None:
    open_ = [m.title for m in s.milestones if not (m.done or m.waived)]
    return f"finish or waive (with a reason) every milestone: {', '.join(open_)}" if open_ else None


def _actuals_entered(s: MeasureSnapshot) -> str | None:
    if any(line.actual_periods for line in s.lines):
        return None
    return "enter actuals for at least one period"


_CHECKS = {
    Criterion.ROLES_ASSIGNED: _roles_assigned,
    Criterion.BUSINESS_UNIT: lambda s: None if s.business_unit_id else "choose the business unit",
    Criterion.LEGAL_ENTITY: lambda s: None if s.legal_entity_id else "choose the legal entity",
    Criterion.IMPACT_ESTIMATED: _impact_estimated,
    Criterion.BASELINE: _baseline,
    Criterion.PLAN_PHASED: _plan_phased,
    Criterion.MILESTONES_PLANNED: _milestones_planned,
    Criterion.MILESTONES_FINISHED: _milestones_finished,
    Criterion.ACTUALS_ENTERED: _actuals_entered,
}


def unmet_criteria(
    target: Stage, snapshot: MeasureSnapshot, policy: GatePolicy
) -> list[UnmetCriterion]:
    """What is missing before the gate to `target` can be submitted, in the policy's order."""
    unmet = []
    for criterion in policy.gates[target].criteria:
        message = _CHECKS[criterion](snapshot)
        if message:
            unmet.append(UnmetCriterion(code=criterion, message=message))
    return unmet


def planned_annual_ebitda_in_group(snapshot: MeasureSnapshot) -> Decimal | None:
    """The planned annual EBITDA effect in the organization's group currency (the currency of
    the portfolio's steering threshold); None when no rate converts it."""
    planned = planned_annual_ebitda(snapshot)
    if snapshot.group_currency is None or snapshot.currency in (None, snapshot.group_currency):
        return planned
    if snapshot.rate_to_group is None:
        return None
    return planned * snapshot.rate_to_group


def missing_rate(target: Stage, snapshot: MeasureSnapshot) -> str | None:
    """Why the gate cannot open for want of an exchange rate, or None."""
    if target is not Stage.DECIDED or planned_annual_ebitda_in_group(snapshot) is not None:
        return None
    return (
        f"no exchange rate from {snapshot.currency} into the group currency "
        f"{snapshot.group_currency}: the steering threshold cannot be applied until an admin "
        "sets it on the admin page, under Rates"
    )


def required_approvers(target: Stage, snapshot: MeasureSnapshot, policy: GatePolicy) -> list[Role]:
    """Who must approve the gate: the policy's approvers, plus the steering committee when a
    Decided gate's planned annual EBITDA, in the group currency, reaches the portfolio's
    threshold."""
    roles = list(policy.gates[target].approvers)
    planned = planned_annual_ebitda_in_group(snapshot)
    if (
        target is Stage.DECIDED
        and Role.STEERING_COMMITTEE not in roles
        and planned is not None
        and planned >= policy.steering_threshold
    ):
        roles.append(Role.STEERING_COMMITTEE)
    return roles


def people_in_role(role: Role, snapshot: MeasureSnapshot) -> list[int]:
    """Who may act for `role` on this measure."""
    single = {
        Role.OWNER: snapshot.owner_id,
        Role.SPONSOR: snapshot.sponsor_id,
        Role.CONTROLLER: snapshot.controller_id,
    }
    if role is Role.STEERING_COMMITTEE:
        return list(snapshot.steering_member_ids)
    person = single[role]
    return [person] if person is not None else []
