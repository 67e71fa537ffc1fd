"""The small Pydantic models that travel through Temporal: workflow input and state, messages,
activity arguments, query answers. Ids, codes and amounts only — never tokens."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from models.channels import Channel
from models.closure import VerifiedFigures
from models.criteria import MeasureSnapshot, UnmetCriterion
from models.escalation import EscalationStep
from models.policy import EscalationTimings, GatePolicy, Role
from models.stages import Stage
from models.status import Light


class MeasureFacts(BaseModel):
    """What the workflow and the Temporal UI need to know about a measure at start."""

    measure_id: int
    title: str
    stage: Stage
    portfolio_id: int
    legal_entity_id: int | None = None
    business_unit_id: int | None = None
    implementation_status: Light = Light.NONE
    potential_status: Light = Light.NONE


# --- messages (one model each, so fields with defaults can be added later) -----------------


class SubmitGate(BaseModel):
    by: int = Field(description="The person submitting: the measure's owner.")
    channel: Channel = Channel.API


class Decide(BaseModel):
    by: int
    approve: bool
    comment: str = Field(default="", max_length=2000)
    channel: Channel = Channel.API


class ConfirmClosure(BaseModel):
    by: int
    verified: VerifiedFigures
    channel: Channel = Channel.API


class PutOnHold(BaseModel):
    by: int
    reason: str = Field(min_length=1, max_length=2000)
    review_date: date
    channel: Channel = Channel.API


class Resume(BaseModel):
    by: int
    channel: Channel = Channel.API


class Cancel(BaseModel):
    by: int
    reason: str = Field(min_length=1, max_length=2000)
    channel: Channel = Channel.API


# --- state ----------------------------------------------------------------------------------


class GateDecision(BaseModel):
    role: Role
    by: int
    approve: bool
    comment: str
    at: datetime
    on_behalf_of: int | None = None  # `by` deputised for this person


class OpenGate(BaseModel):
    round: int
    target: Stage
    submitted_by: int
    opened_at: datetime
    policy: GatePolicy
    required: list[Role]
    eligible: dict[Role, list[int]]
    decisions: list[GateDecision] = []
    snapshot: MeasureSnapshot

    @property
    def pending(self) -> list[Role]:
        decided = {d.role for d in self.decisions}
        return [role for role in self.required if role not in decided]


class Hold(BaseModel):
    round: int
    reason: str
    review_date: date
    resume_stage: Stage
    since: datetime


class MeasureState(BaseModel):
    """Everything the lifecycle remembers; carried whole across continue-as-new."""

    measure_id: int
    title: str
    stage: Stage
    facts: MeasureFacts
    stage_since: datetime
    stage_round: int = 1
    gate_rounds: int = 0
    gate: OpenGate | None = None
    hold: Hold | None = None
    hold_rounds: int = 0
    timings: EscalationTimings = EscalationTimings()
    fired: list[str] = []


class MeasureStart(BaseModel):
    """The input of a measure's lifecycle workflow."""

    facts: MeasureFacts
    state: MeasureState | None = None  # set when the workflow continued as new
    history_limit: int | None = None  # continue as new beyond this many events (tests)


# --- activity arguments ---------------------------------------------------------------------


class MeasureRef(BaseModel):
    measure_id: int


class PortfolioRef(BaseModel):
    portfolio_id: int


class DeputyQuery(BaseModel):
    """Does `deputy_id` deputise, on `day`, for one of `principals`?"""

    deputy_id: int
    principals: list[int]
    day: date


class DeputyFor(BaseModel):
    principal: int | None = None


class GateSubmitted(BaseModel):
    kind: Literal["gate_submitted"] = "gate_submitted"
    round: int
    target: Stage
    by: int
    policy_version: int
    required: list[Role]
    criteria_checked: list[str]
    channel: Channel = Channel.API


class GateDecided(BaseModel):
    kind: Literal["gate_decided"] = "gate_decided"
    round: int
    role: Role
    by: int
    approve: bool
    comment: str
    channel: Channel = Channel.API
    on_behalf_of: int | None = None


class GateClosed(BaseModel):
    kind: Literal["gate_closed"] = "gate_closed"
    round: int
    outcome: Literal["approved", "rejected", "withdrawn"]
    reason: str = ""


class StageChanged(BaseModel):
    kind: Literal["stage_changed"] = "stage_changed"
    from_stage: Stage
    to_stage: Stage
    by: int | None = None
    reason: str = ""
    review_date: date | None = None
    channel: Channel = Channel.WORKFLOW


class ClosureConfirmed(BaseModel):
    kind: Literal["closure_confirmed"] = "closure_confirmed"
    round: int
    by: int
    verified: VerifiedFigures
    channel: Channel = Channel.API
    on_behalf_of: int | None = None


class ApproverReplaced(BaseModel):
    """The person acting for a role the open gate awaits changed: the pending approval moves."""

    kind: Literal["approver_replaced"] = "approver_replaced"
    round: int
    role: Role
    replaced: list[int]
    now_acting: list[int]


class EscalationFired(BaseModel):
    kind: Literal["escalation_fired"] = "escalation_fired"
    step: EscalationStep


Fact = Annotated[
    GateSubmitted
    | GateDecided
    | GateClosed
    | StageChanged
    | ClosureConfirmed
    | EscalationFired
    | ApproverReplaced,
    Field(discriminator="kind"),
]


class FactRecord(BaseModel):
    """One lifecycle fact with the business key that makes writing it idempotent."""

    key: str
    fact: Fact


class FactBatch(BaseModel):
    """Facts written together, in one transaction, each with its audit event."""

    measure_id: int
    at: datetime
    records: list[FactRecord]


class AuditAnchor(BaseModel):
    """The audit trail's head right after a batch of lifecycle facts was written: recorded in
    the measure's Temporal history (as the activity's result), out of reach of anyone who can
    only rewrite the database, so `valuegate audit-verify` can tell a trail cut short."""

    event_id: int
    hash: str


class FactsRecorded(BaseModel):
    written: int
    anchor: AuditAnchor | None = None  # None when every fact had been written before


class NoticeKind(StrEnum):
    APPROVAL_REQUEST = "approval_request"
    DECISION_OUTCOME = "decision_outcome"
    CLOSURE_REQUEST = "closure_request"
    CLOSURE_CONFIRMED = "closure_confirmed"
    ESCALATION = "escalation"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"
    RESUMED = "resumed"


class Notice(BaseModel):
    """An email the lifecycle sends; `key` makes it go out once per recipient."""

    key: str
    measure_id: int
    kind: NoticeKind
    recipient: Role
    gate_target: Stage | None = None
    gate_round: int | None = None
    step: EscalationStep | None = None
    approve: bool | None = None
    comment: str = ""


# --- answers --------------------------------------------------------------------------------


class GateView(BaseModel):
    round: int
    target: Stage
    submitted_by: int
    opened_at: datetime
    required: list[Role]
    pending: list[Role]
    decisions: list[GateDecision]
    policy_version: int


class LifecycleView(BaseModel):
    """The workflow's answer to "where is this measure now?"."""

    measure_id: int
    stage: Stage
    gate: GateView | None = None
    hold: Hold | None = None


class SubmitRefused(BaseModel):
    """Why a submission was refused (ApplicationError details)."""

    unmet: list[UnmetCriterion]


class ImportJobRef(BaseModel):
    """The import job a workflow runs (`import-<id>`)."""

    job_id: int


class ImportOutcome(BaseModel):
    """What running an import job gave: whether it wrote anything, and how many measures'
    lifecycles then need starting or telling."""

    applied: bool
    follow_ups: int = 0


class ForecastReview(BaseModel):
    """A monthly forecast review (`forecast-review`) as of `day` (None: the day it runs)."""

    day: date | None = None


class ForecastReviewOutcome(BaseModel):
    """What a forecast review did: the owners asked (each in one email listing their measures),
    the measures they were asked about, and those whose forecast is unconfirmed now."""

    owners: int = 0
    measures: int = 0
    unconfirmed: int = 0
