"""The escalation ladder: which reminders and escalations fall due when. Pure, so the workflow
computes the same schedule on every replay."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum

from pydantic import BaseModel

from models.policy import EscalationTimings, Role


class StepKind(StrEnum):
    APPROVAL_REMINDER = "approval_reminder"
    APPROVAL_ESCALATION = "approval_escalation"
    FINAL_ESCALATION = "final_escalation"
    STAGE_REMINDER = "stage_reminder"
    STAGE_ESCALATION = "stage_escalation"
    HOLD_REVIEW = "hold_review"


class EscalationStep(BaseModel):
    key: str  # unique over the measure's life: each step happens at most once
    kind: StepKind
    due_at: datetime
    recipient: Role  # whom the email goes to
    waiting_for: Role | None = None  # the approver who is late, for approval steps
    since: datetime  # since when the awaited action has been pending


def approval_steps(
    *, gate_round: int, opened_at: datetime, pending: list[Role], timings: EscalationTimings
) -> list[EscalationStep]:
    """Reminder, escalation and final escalation for every approver still to decide."""
    steps = []
    for role in pending:
        escalate_to = Role.STEERING_COMMITTEE if role is Role.SPONSOR else Role.SPONSOR
        for kind, after, recipient in (
            (StepKind.APPROVAL_REMINDER, timings.remind_after, role),
            (StepKind.APPROVAL_ESCALATION, timings.escalate_after, escalate_to),
            (StepKind.FINAL_ESCALATION, timings.final_escalation_after, Role.STEERING_COMMITTEE),
        ):
            steps.append(
                EscalationStep(
                    key=f"gate{gate_round}/{role.value}/{kind.value}",
                    kind=kind,
                    due_at=opened_at + after,
                    recipient=recipient,
                    waiting_for=role,
                    since=opened_at,
                )
            )
    return steps


def stalled_stage_steps(
    *, stage_round: int, since: datetime, timings: EscalationTimings
) -> list[EscalationStep]:
    """A task reminder to the owner when no gate was submitted within the stage SLA, then an
    escalation to the sponsor."""
    return [
        EscalationStep(
            key=f"stage{stage_round}/{StepKind.STAGE_REMINDER.value}",
            kind=StepKind.STAGE_REMINDER,
            due_at=since + timings.stage_sla,
            recipient=Role.OWNER,
            since=since,
        ),
        EscalationStep(
            key=f"stage{stage_round}/{StepKind.STAGE_ESCALATION.value}",
            kind=StepKind.STAGE_ESCALATION,
            due_at=since + timings.stage_sla + timings.stage_escalate_after,
            recipient=Role.SPONSOR,
            since=since,
        ),
    ]


def hold_review_step(*, hold_round: int, since: datetime, review_date: date) -> EscalationStep:
    """On the review date (start of day, UTC) the sponsor is reminded of the held measure."""
    return EscalationStep(
        key=f"hold{hold_round}/{StepKind.HOLD_REVIEW.value}",
        kind=StepKind.HOLD_REVIEW,
        due_at=datetime.combine(review_date, time(0), tzinfo=UTC),
        recipient=Role.SPONSOR,
        since=since,
    )


def next_due(steps: list[EscalationStep], fired: set[str]) -> list[EscalationStep]:
    """The steps not yet fired, earliest first."""
    return sorted((s for s in steps if s.key not in fired), key=lambda s: (s.due_at, s.key))
