"""Emails go through the outbox: sent once, however often the activity runs, and they survive an
SMTP outage without blocking the lifecycle."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.notify import NotifyActivities
from models.audit import Actor, AuditEvent, Channel
from models.measure import MeasureCreate
from models.outbox import OutboxEmail, OutboxStatus
from services import lifecycle, measures
from services.db import transaction
from tests.factories import make_org, measure_payload
from tests.support import CapturingSmtp, terminated_after
from valuegate.settings import Settings
from valuegate.worker import build_worker, delivery
from workflows.contracts import MeasureRef

TESTER = Actor(label="test", channel=Channel.API)


async def _new_measure(sessions: async_sessionmaker[AsyncSession]) -> int:
    org = await make_org(sessions)
    async with transaction(sessions) as session:
        measure, _ = await measures.create(
            session, data=MeasureCreate.model_validate(measure_payload(org)), actor=TESTER
        )
    assert measure.id is not None
    return measure.id


def _activities(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> NotifyActivities:
    return NotifyActivities(sessions=sessions, delivery=delivery(settings))


async def _outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxEmail]:
    async with sessions() as session:
        return list((await session.exec(select(OutboxEmail))).all())


async def test_running_the_activity_again_sends_nothing_twice(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, smtp: CapturingSmtp
) -> None:
    measure_id = await _new_measure(sessions)
    notify = _activities(sessions, settings)
    env = ActivityEnvironment()

    first = await env.run(notify.send_assignment_email, MeasureRef(measure_id=measure_id))
    second = await env.run(notify.send_assignment_email, MeasureRef(measure_id=measure_id))
    concurrent = await asyncio.gather(
        *(
            env.run(notify.send_assignment_email, MeasureRef(measure_id=measure_id))
            for _ in range(5)
        )
    )

    assert (first, second, concurrent) == (True, False, [False] * 5)
    assert len(smtp.messages) == 1
    [row] = await _outbox(sessions)
    assert row.status is OutboxStatus.SENT
    assert smtp.messages[0]["Message-ID"] == row.message_id


async def test_smtp_outage_is_retried_until_the_email_is_delivered_exactly_once(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    smtp: CapturingSmtp,
    time_skipping_env: WorkflowEnvironment,
) -> None:
    measure_id = await _new_measure(sessions)
    async with sessions() as session:
        facts = await measures.facts(
            session, measure=await measures.get(session, measure_id=measure_id), today=date.today()
        )
    smtp.refuse = True
    queue = f"test-{uuid.uuid4()}"
    async with (
        build_worker(
            time_skipping_env.client, settings=settings, sessions=sessions, task_queue=queue
        ),
        terminated_after([]) as started,
    ):
        started.append(
            await lifecycle.start(time_skipping_env.client, facts=facts, task_queue=queue)
        )
        await smtp.wait_for_refusals(2)  # the first attempt and the first retry
        smtp.refuse = False
        await time_skipping_env.sleep(timedelta(minutes=30))  # past any backoff interval
        await smtp.wait_for(1)

    assert len(smtp.messages) == 1
    [row] = await _outbox(sessions)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, smtp.refusals + 1)
    async with sessions() as session:
        sent_events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "email.sent"))
        ).all()
    assert [e.entity_id for e in sent_events] == [str(measure_id)]
