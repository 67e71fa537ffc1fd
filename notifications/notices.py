"""What each lifecycle email says: subject, headline and lines, from plain facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

STEP_TEXT = {
    "approval_reminder": "Reminder: your decision is awaited",
    "approval_escalation": "Escalation: a gate decision is overdue",
    "final_escalation": "Final escalation: a gate decision is long overdue",
    "stage_reminder": "Task: the next gate has not been submitted",
    "stage_escalation": "Escalation: the measure is stalled",
    "hold_review": "Review: the measure on hold is due for review",
}


@dataclass(frozen=True)
class NoticeText:
    subject: str
    headline: str
    lines: list[str] = field(default_factory=list)


def notice_text(
    *,
    kind: str,
    measure_ref: str,
    title: str,
    gate: str | None,
    approve: bool | None,
    comment: str,
    step_kind: str | None = None,
    waiting_for: str | None = None,
    since: datetime | None = None,
) -> NoticeText:
    """The words of one lifecycle email."""
    name = f"{measure_ref} “{title}”"
    if kind == "approval_request":
        return NoticeText(
            f"Decision needed: gate to {gate} for {measure_ref}",
            f"Please decide on the gate to {gate} of {name}.",
            ["Open the measure to review the business case, then approve or reject."],
        )
    if kind == "closure_request":
        return NoticeText(
            f"Verify figures to close {measure_ref}",
            f"{name} is ready for closure.",
            ["Please confirm the achieved figures, with an evidence reference, to close it."],
        )
    if kind == "decision_outcome":
        verdict = "approved" if approve else "rejected"
        lines = [f"Comment: {comment}"] if comment else []
        return NoticeText(
            f"Gate to {gate} {verdict}: {measure_ref}",
            f"The gate to {gate} of {name} was {verdict}.",
            lines,
        )
    if kind == "closure_confirmed":
        return NoticeText(f"Closed: {measure_ref}", f"{name} is closed with verified figures.")
    if kind == "cancelled":
        return NoticeText(
            f"Cancelled: {measure_ref}", f"{name} was cancelled.", [f"Reason: {comment}"]
        )
    headline = STEP_TEXT.get(step_kind or "", "The measure needs attention")
    lines = []
    if waiting_for:
        lines.append(
            f"Waiting for the {waiting_for.replace('_', ' ')} to decide on the gate to {gate}."
        )
    if since:
        lines.append(f"Pending since {since:%Y-%m-%d %H:%M} UTC.")
    return NoticeText(f"{headline}: {measure_ref}", f"{headline} — {name}.", lines)
