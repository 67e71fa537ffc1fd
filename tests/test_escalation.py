"""The escalation ladder runs on durable timers: each step once, at its time, and none after the
awaited action happened. Days pass in milliseconds on the time-skipping server."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.gates import LifecycleEvent
from models.stages import Stage
from services import lifecycle, measures
from tests.factories import add_steering_member, complete_measure, make_org
from tests.link_helpers import links_in
from tests.record_history import keep
from tests.support import CapturingSmtp, terminated_after
from valuegate.worker import build_worker
from workflows.contracts import Decide, PutOnHold, SubmitGate
from workflows.measure import MeasureWorkflow

HOUR = timedelta(hours=1)


def _kinds(smtp: CapturingSmtp) -> Counter[tuple[str, str]]:
    """(recipient, subject without the measure) of every email so far."""
    return Counter(
        (str(m["To"]), str(m["Subject"]).strip().split(": M-")[0]) for m in smtp.messages
    )


async def _ledger(sessions: async_sessionmaker[AsyncSession], measure_id: int) -> list[str]:
    async with sessions() as session:
        rows = await session.exec(
            select(LifecycleEvent.key)
            .where(
                LifecycleEvent.measure_id == measure_id, LifecycleEvent.kind == "escalation_fired"
            )
            .order_by(col(LifecycleEvent.id))
        )
        return list(rows.all())


async def test_pending_approval_is_reminded_escalated_and_stops_when_decided(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    smtp: CapturingSmtp,
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    org = await make_org(sessions)
    await add_steering_member(sessions, org, "sc.chair@acme.example")
    measure_id = await complete_measure(sessions, org)
    queue = f"test-{uuid.uuid4()}"
    async with (
        build_worker(env.client, settings=settings, sessions=sessions, task_queue=queue),
        terminated_after([]) as started,
    ):
        async with sessions() as session:
            facts = await measures.facts(
                session,
                measure=await measures.get(session, measure_id=measure_id),
                today=date.today(),
            )
        handle = await lifecycle.start(env.client, facts=facts, task_queue=queue)
        started.append(handle)
        await handle.execute_update(MeasureWorkflow.submit_gate, SubmitGate(by=org.owner_id))
        await smtp.wait_for(2)  # the owner's welcome and the sponsor's approval request

        await env.sleep(2 * timedelta(days=1) + HOUR)
        reminder = (await smtp.wait_for(3))[-1]
        assert (
            _kinds(smtp)[
                ("sam.sponsor@acme.example", "[ValueGate] Reminder: your decision is awaited")
            ]
            == 1
        )
        assert set(links_in(reminder)) == {"Approve", "Reject"}  # decide from the reminder too

        await env.sleep(
            3 * timedelta(days=1)
        )  # day 5: the approver is the sponsor, so the steering committee
        await smtp.wait_for(4)
        assert (
            _kinds(smtp)[
                ("sc.chair@acme.example", "[ValueGate] Escalation: a gate decision is overdue")
            ]
            == 1
        )

        await handle.execute_update(
            MeasureWorkflow.decide_gate, Decide(by=org.sponsor_id, approve=True)
        )
        await smtp.wait_for(5)  # the owner hears the outcome

        # Day 10 would have brought the final escalation; the decision came first. Day 19 (14 days
        # after entering Identified) brings the owner's task reminder: it proves the clock ran past.
        await env.sleep(15 * timedelta(days=1))
        await smtp.wait_for(6)
        await env.sleep(
            6 * timedelta(days=1)
        )  # and 5 days later the sponsor hears the measure stalls
        await smtp.wait_for(7)
        await keep(handle, "escalated_then_decided_then_stalled")

    kinds = _kinds(smtp)
    assert not any("Final escalation" in subject for _, subject in kinds)
    assert (
        kinds[
            ("olivia.owner@acme.example", "[ValueGate] Task: the next gate has not been submitted")
        ]
        == 1
    )
    assert (
        kinds[("sam.sponsor@acme.example", "[ValueGate] Escalation: the measure is stalled")] == 1
    )
    assert len(smtp.messages) == 7
    assert await _ledger(sessions, measure_id) == [
        "gate1/sponsor/approval_reminder",
        "gate1/sponsor/approval_escalation",
        "stage2/stage_reminder",
        "stage2/stage_escalation",
    ]


async def test_the_full_ladder_for_a_controller_and_the_hold_review(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    smtp: CapturingSmtp,
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    org = await make_org(sessions)
    await add_steering_member(sessions, org, "sc.chair@acme.example")
    measure_id = await complete_measure(sessions, org, stage=Stage.IDENTIFIED)
    queue = f"test-{uuid.uuid4()}"
    async with (
        build_worker(env.client, settings=settings, sessions=sessions, task_queue=queue),
        terminated_after([]) as started,
    ):
        async with sessions() as session:
            facts = await measures.facts(
                session,
                measure=await measures.get(session, measure_id=measure_id),
                today=date.today(),
            )
        handle = await lifecycle.start(env.client, facts=facts, task_queue=queue)
        started.append(handle)
        await handle.execute_update(MeasureWorkflow.submit_gate, SubmitGate(by=org.owner_id))
        await smtp.wait_for(2)
        await env.sleep(10 * timedelta(days=1) + HOUR)
        await smtp.wait_for(5)  # reminder (controller), escalation (sponsor), final (steering)
        review = (await env.get_current_time()).date() + timedelta(days=30)
        await handle.execute_update(
            MeasureWorkflow.put_on_hold,
            PutOnHold(by=org.sponsor_id, reason="Budget freeze", review_date=review),
        )
        await env.sleep(31 * timedelta(days=1))
        await smtp.wait_for(8)  # owner and sponsor hear of the hold; the sponsor of the review
        await keep(handle, "full_ladder_then_hold_review")

    kinds = _kinds(smtp)
    assert (
        kinds[("cleo.controller@acme.example", "[ValueGate] Reminder: your decision is awaited")]
        == 1
    )
    assert (
        kinds[("sam.sponsor@acme.example", "[ValueGate] Escalation: a gate decision is overdue")]
        == 1
    )
    assert (
        kinds[
            (
                "sc.chair@acme.example",
                "[ValueGate] Final escalation: a gate decision is long overdue",
            )
        ]
        == 1
    )
    assert (
        kinds[
            (
                "sam.sponsor@acme.example",
                "[ValueGate] Review: the measure on hold is due for review",
            )
        ]
        == 1
    )
    for person in ("olivia.owner@acme.example", "sam.sponsor@acme.example"):
        assert sum(1 for to, subject in kinds if to == person and "On hold" in subject) == 1
    assert len(smtp.messages) == 8
    assert (await _ledger(sessions, measure_id))[-1] == "hold1/hold_review"
