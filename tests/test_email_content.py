"""Every lifecycle email renders with hostile input escaped, in both parts, on one subject line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications.links import placeholder
from notifications.notices import notice_text
from notifications.render import render_email

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
KINDS = [
    ("assigned", {}),
    ("approval_request", {}),
    ("closure_request", {}),
    ("decision_outcome", {"approve": False, "comment": HOSTILE}),
    ("closure_confirmed", {}),
    ("cancelled", {"comment": HOSTILE}),
    ("escalation", {"step_kind": "approval_escalation", "waiting_for": "sponsor"}),
    ("escalation", {"step_kind": "stage_reminder"}),
    ("escalation", {"step_kind": "hold_review"}),
]


@pytest.mark.parametrize(
    ("kind", "extra"), KINDS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(KINDS)]
)
def test_hostile_input_is_escaped(kind: str, extra: dict[str, object]) -> None:
    text = notice_text(
        kind=kind,
        measure_ref="M-7",
        title=f"{HOSTILE}\r\nBcc: victim@example.com",
        gate="Decided",
        late=HOSTILE,
        since=datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
        at_stake="€120,000.00",
        **extra,  # type: ignore[arg-type]
    )
    email = render_email(
        "lifecycle_notice",
        name=HOSTILE,
        subject=text.subject,
        headline=text.headline,
        lines=text.lines,
        figures=[("Planned annual EBITDA effect", HOSTILE)],
        checklist=[(False, HOSTILE)],
        actions=[("Approve", placeholder("approve"))],
        link_note="These links work once.",
        measure_url="https://valuegate.example.com/measures/7",
    )

    assert "\n" not in email.subject and "\r" not in email.subject
    assert "<script>" not in email.html and "<img src=x" not in email.html
    assert "&lt;script&gt;" in email.html
    assert HOSTILE in email.text  # the plain-text part shows it as typed
    assert "http://" not in email.html and "<img" not in email.html  # no external images
    assert email.html.count("https://") == 1  # the measure's page, nothing else


def test_an_escalation_says_who_is_late_since_when_and_what_is_at_stake() -> None:
    text = notice_text(
        kind="escalation",
        measure_ref="M-7",
        title="Decommission the legacy SAN",
        gate="Decided",
        step_kind="approval_escalation",
        waiting_for="controller",
        late="Cleo Controller",
        since=datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
        at_stake="€120,000.00",
    )

    assert text.subject == "Escalation: a gate decision is overdue: M-7"
    assert text.lines == [
        "Waiting for the controller (Cleo Controller) to decide on the gate to Decided.",
        "Until then the measure cannot move to Decided.",
        "Pending since 2027-01-04 09:00 UTC.",
        "Value at stake: €120,000.00 planned annual EBITDA effect.",
    ]
