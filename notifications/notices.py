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
    approve: bool | None = None,
    comment: str = "",
    step_kind: str | None = None,
    waiting_for: str | None = None,
    late: str = "",
    since: datetime | None = None,
    at_stake: str | None = None,
) -> NoticeText:
    """The words of one lifecycle email."""
    name = f"{measure_ref} “{title}”"
    if kind == "assigned":
        return NoticeText(
            f"You own measure {measure_ref}: {title}", f"You are the owner of {name}."
        )
    if kind == "approval_request":
        return NoticeText(
            f"Decision needed: gate to {gate} for {measure_ref}",
            f"Please decide on the gate to {gate} of {name}.",
            ["The figures and the criteria it was checked against are below."],
        )
    if kind == "closure_request":
        return NoticeText(
            f"Verify figures to close {measure_ref}",
            f"{name} is ready for closure.",
            [
                "Please verify the achieved figures against plan, with an evidence reference; "
                "confirming them closes the measure."
            ],
        )
    if kind == "decision_outcome":
        verdict = "approved" if approve else "rejected"
        lines = [f"Comment: {comment}"] if comment else []
        if not approve:
            lines.append("The measure stays in its stage; resubmit the gate when ready.")
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
    if kind == "on_hold":
        return NoticeText(
            f"On hold: {measure_ref}",
            f"{name} was put on hold.",
            [
                f"Reason: {comment}",
                "Its open gate, if any, was withdrawn; it resumes where it was.",
            ],
        )
    if kind == "resumed":
        return NoticeText(f"Resumed: {measure_ref}", f"{name} was resumed and goes on.")
    headline = STEP_TEXT.get(step_kind or "", "The measure needs attention")
    lines = []
    if waiting_for:
        who = f"the {waiting_for}" + (f" ({late})" if late else "")
        lines.append(f"Waiting for {who} to decide on the gate to {gate}.")
        lines.append(f"Until then the measure cannot move to {gate}.")
    if since:
        lines.append(f"Pending since {since:%Y-%m-%d %H:%M} UTC.")
    if at_stake and step_kind != "hold_review":
        lines.append(f"Value at stake: {at_stake} planned annual EBITDA effect.")
    return NoticeText(f"{headline}: {measure_ref}", f"{headline} — {name}.", lines)
