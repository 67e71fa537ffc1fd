"""Gate policy: which criteria each gate checks, who approves it, thresholds and escalation
timings. Data, not code: held per portfolio, versioned, with the defaults below."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from models.stages import Stage


class Role(StrEnum):
    OWNER = "owner"
    SPONSOR = "sponsor"
    CONTROLLER = "controller"
    STEERING_COMMITTEE = "steering_committee"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Criterion(StrEnum):
    ROLES_ASSIGNED = "roles_assigned"
    BUSINESS_UNIT = "business_unit"
    LEGAL_ENTITY = "legal_entity"
    IMPACT_ESTIMATED = "impact_estimated"
    BASELINE = "baseline"
    PLAN_PHASED = "plan_phased"
    MILESTONES_PLANNED = "milestones_planned"
    MILESTONES_FINISHED = "milestones_finished"
    ACTUALS_ENTERED = "actuals_entered"

    @property
    def label(self) -> str:
        """What the criterion asks for, as a checklist line."""
        return CRITERION_LABELS[self]


CRITERION_LABELS = {
    Criterion.ROLES_ASSIGNED: "Owner, sponsor and controller set, three different people",
    Criterion.BUSINESS_UNIT: "Business unit set",
    Criterion.LEGAL_ENTITY: "Legal entity set",
    Criterion.IMPACT_ESTIMATED: "At least one impact line with an estimated annual potential",
    Criterion.BASELINE: "Baseline with amount, period and source",
    Criterion.PLAN_PHASED: "Monthly plan phased over the plan horizon",
    Criterion.MILESTONES_PLANNED: "Milestones with dates and owners",
    Criterion.MILESTONES_FINISHED: "Every milestone done or waived with a reason",
    Criterion.ACTUALS_ENTERED: "At least one period of actuals entered",
}


class GateRule(BaseModel):
    """What one gate (named by the stage it leads to) checks and who must approve it."""

    criteria: list[Criterion]
    approvers: list[Role] = Field(min_length=1)


class EscalationTimings(BaseModel):
    """How long the lifecycle waits before it reminds and escalates."""

    remind_after: timedelta = timedelta(days=2)
    escalate_after: timedelta = timedelta(days=5)
    final_escalation_after: timedelta = timedelta(days=10)
    stage_sla: timedelta = timedelta(days=14)
    stage_escalate_after: timedelta = timedelta(days=5)  # after the stage SLA ran out

    @model_validator(mode="after")
    def _ladder_rises(self) -> EscalationTimings:
        if not (
            timedelta(0) < self.remind_after < self.escalate_after < self.final_escalation_after
        ):
            raise ValueError(
                "the reminder must come before the escalation, and the escalation before the "
                "final escalation"
            )
        if self.stage_sla <= timedelta(0) or self.stage_escalate_after <= timedelta(0):
            raise ValueError("stage timings must be positive")
        return self


IDENTIFIED_CRITERIA = [
    Criterion.ROLES_ASSIGNED,
    Criterion.BUSINESS_UNIT,
    Criterion.LEGAL_ENTITY,
    Criterion.IMPACT_ESTIMATED,
]
DETAILED_CRITERIA = [Criterion.BASELINE, Criterion.PLAN_PHASED, Criterion.MILESTONES_PLANNED]


class LinkSignIn(BaseModel):
    """When an emailed decision link opens the decision only after its person has signed in:
    a step-up where the stakes are high. Otherwise a link acts on its own, for its person."""

    closure: bool = Field(default=False, description="The controller's verify link.")
    at_or_above: Decimal | None = Field(
        default=None,
        ge=0,
        description="Gates of measures whose planned annual EBITDA effect, in the group "
        "currency, is at least this.",
    )

    def required(self, *, closure: bool, annual_ebitda_in_group: Decimal | None) -> bool:
        """Whether a link on such a gate needs its person signed in (an amount no rate
        converts counts as large)."""
        if closure and self.closure:
            return True
        if self.at_or_above is None:
            return False
        return annual_ebitda_in_group is None or annual_ebitda_in_group >= self.at_or_above


class GatePolicy(BaseModel):
    """The rules a gate runs under; `version` 0 is the built-in default."""

    version: int = 0
    gates: dict[Stage, GateRule]
    steering_threshold: Decimal = Field(default=Decimal(1_000_000), ge=0)
    closure_tolerance: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    escalation: EscalationTimings = EscalationTimings()
    link_sign_in: LinkSignIn = LinkSignIn()

    @model_validator(mode="after")
    def _every_gate_has_a_rule(self) -> GatePolicy:
        missing = {Stage.IDENTIFIED, Stage.DETAILED, Stage.DECIDED, Stage.IMPLEMENTED, Stage.CLOSED}
        missing -= set(self.gates)
        if missing:
            raise ValueError(f"no rule for gate(s) {', '.join(sorted(missing))}")
        if self.gates[Stage.CLOSED].approvers != [Role.CONTROLLER]:
            raise ValueError("closure is approved by the controller alone")
        return self


def default_policy(steering_threshold: Decimal = Decimal(1_000_000)) -> GatePolicy:
    """The defaults of DESIGN.md §2."""
    return GatePolicy(
        gates={
            Stage.IDENTIFIED: GateRule(criteria=IDENTIFIED_CRITERIA, approvers=[Role.SPONSOR]),
            Stage.DETAILED: GateRule(criteria=DETAILED_CRITERIA, approvers=[Role.CONTROLLER]),
            Stage.DECIDED: GateRule(
                criteria=IDENTIFIED_CRITERIA + DETAILED_CRITERIA,
                approvers=[Role.SPONSOR, Role.CONTROLLER],
            ),
            Stage.IMPLEMENTED: GateRule(
                criteria=[Criterion.MILESTONES_FINISHED, Criterion.ACTUALS_ENTERED],
                approvers=[Role.SPONSOR],
            ),
            Stage.CLOSED: GateRule(criteria=[], approvers=[Role.CONTROLLER]),
        },
        steering_threshold=steering_threshold,
    )


TIMING_LABELS = {
    "remind_after": "Remind the approver after",
    "escalate_after": "Escalate to the sponsor after",
    "final_escalation_after": "Escalate to the steering committee after",
    "stage_sla": "Stage SLA (no gate submitted within)",
    "stage_escalate_after": "Escalate a stalled stage to the sponsor after",
}
UNITS = {"days": timedelta(days=1), "hours": timedelta(hours=1), "minutes": timedelta(minutes=1)}


def in_units(duration: timedelta) -> tuple[Decimal, str]:
    """A duration in the largest unit that holds it whole (2 days, 36 hours, 90 minutes), else
    in minutes with decimals."""
    seconds = Decimal(str(duration.total_seconds()))
    for unit, size in UNITS.items():
        amount = seconds / Decimal(size.total_seconds())
        if amount == amount.to_integral_value():
            return amount.quantize(Decimal(1)), unit
    return (seconds / 60).normalize(), "minutes"


def describe(duration: timedelta) -> str:
    amount, unit = in_units(duration)
    return f"{amount:f} {unit.removesuffix('s') if amount == 1 else unit}"


def differences(before: GatePolicy, after: GatePolicy) -> list[str]:
    """What changed from `before` to `after`, a sentence each (empty: nothing)."""
    changes = []
    for stage, rule in after.gates.items():
        old = before.gates.get(stage, GateRule(criteria=[], approvers=rule.approvers))
        added = [c.label for c in rule.criteria if c not in old.criteria]
        removed = [c.label for c in old.criteria if c not in rule.criteria]
        if added:
            changes.append(f"Gate to {stage.label}: now checks {'; '.join(added)}")
        if removed:
            changes.append(f"Gate to {stage.label}: no longer checks {'; '.join(removed)}")
        if old.approvers != rule.approvers:
            was = ", ".join(r.label for r in old.approvers)
            now = ", ".join(r.label for r in rule.approvers)
            changes.append(f"Gate to {stage.label}: approved by {now} (was {was})")
    if before.steering_threshold != after.steering_threshold:
        changes.append(
            f"Steering committee from {after.steering_threshold:,f} "
            f"(was {before.steering_threshold:,f}) in the group currency"
        )
    if before.closure_tolerance != after.closure_tolerance:
        changes.append(
            f"Closure tolerance {(after.closure_tolerance * 100).normalize():f} % "
            f"(was {(before.closure_tolerance * 100).normalize():f} %)"
        )
    for name, label in TIMING_LABELS.items():
        was, now = getattr(before.escalation, name), getattr(after.escalation, name)
        if was != now:
            changes.append(f"{label} {describe(now)} (was {describe(was)})")
    if before.link_sign_in != after.link_sign_in:
        changes.append("Which emailed links need their person signed in changed")
    return changes
