"""Emails go through the outbox: sent once, however often the activity runs, and they survive an
SMTP outage without blocking the lifecycle."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import aiosmtplib
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.notify import NotifyActivities
from config.settings import Settings
from models.audit import Actor, AuditEvent, Channel
from models.columns import utcnow
from models.links import LinkAction, LinkState, SignedLink
from models.measure import MeasureCreate
from models.outbox import OutboxEmail, OutboxStatus
from notifications.links import placeholder, token_hash
from notifications.render import RenderedEmail
from services import lifecycle, links, measures, outbox
from services.db import transaction
from tests.factories import make_org, measure_payload
from tests.link_helpers import links_in
from tests.support import CapturingSmtp, terminated_after
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


async def test_sending_an_email_again_replaces_its_links(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, smtp: CapturingSmtp
) -> None:
    measure_id = await _new_measure(sessions)
    async with sessions() as session:
        measure = await measures.get(session, measure_id=measure_id)
    spec = links.spec(
        measure_id=measure_id,
        gate_round=1,
        action=LinkAction.APPROVE,
        person_id=measure.sponsor_id or 0,
    )

    async def enqueue() -> outbox.Outgoing:
        """What the notice activity does on each attempt."""
        async with transaction(sessions) as session:
            return await outbox.enqueue(
                session,
                delivery=delivery(settings),
                business_key=f"measure-{measure_id}/gate1/requested/sponsor/1",
                measure_id=measure_id,
                recipient="sam.sponsor@acme.example",
                email=RenderedEmail(
                    subject="Decision needed",
                    text=f"Approve: {placeholder('approve')}",
                    html=f'<a href="{placeholder("approve")}">Approve</a>',
                ),
                links=[spec],
            )

    smtp.refuse = True
    with pytest.raises(aiosmtplib.SMTPResponseException):
        await outbox.deliver(sessions, outgoing=await enqueue(), delivery=delivery(settings))
    smtp.refuse = False
    again = await enqueue()  # the retry finds the row and sends it with fresh links
    assert again.tokens is None
    assert await outbox.deliver(sessions, outgoing=again, delivery=delivery(settings))

    [received] = await smtp.wait_for(1)
    token = links_in(received)["Approve"].rpartition("/")[2]
    async with sessions() as session:
        minted = (await session.exec(select(SignedLink).order_by(col(SignedLink.id)))).all()
    assert [link.state(utcnow()) for link in minted] == [LinkState.REVOKED, LinkState.VALID]
    assert minted[1].token_hash == token_hash(token)
