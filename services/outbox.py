"""The email outbox: each email is a row first, sent once, and recorded in the audit trail."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, Channel
from models.columns import utcnow
from models.outbox import OutboxEmail, OutboxStatus
from notifications.mailer import SmtpConfig, build_message, message_id_for, send
from notifications.render import RenderedEmail
from services import audit
from services.db import transaction

MAILER = Actor(label="valuegate-mailer", channel=Channel.WORKFLOW)


async def enqueue(
    sessions: async_sessionmaker[AsyncSession],
    *,
    business_key: str,
    measure_id: int | None,
    recipient: str,
    email: RenderedEmail,
    sender: str,
) -> OutboxEmail:
    """The outbox row for `business_key`, created on first call and returned as is after."""
    try:
        async with transaction(sessions) as session:
            row = await _by_key(session, business_key)
            if row is not None:
                return row
            row = OutboxEmail(
                business_key=business_key,
                measure_id=measure_id,
                recipient=recipient,
                subject=email.subject,
                text_body=email.text,
                html_body=email.html,
                message_id=message_id_for(business_key, sender),
            )
            session.add(row)
        return row
    except IntegrityError:  # another attempt inserted it first
        async with sessions() as session:
            existing = await _by_key(session, business_key)
            assert existing is not None
            return existing


async def deliver(
    sessions: async_sessionmaker[AsyncSession], *, row: OutboxEmail, smtp: SmtpConfig, sender: str
) -> bool:
    """Send a pending outbox email; False when it had already been sent. SMTP errors propagate
    (after the attempt is counted) so the caller's retry policy decides when to try again."""
    if row.status is OutboxStatus.SENT:
        return False
    message = build_message(
        sender=sender,
        recipient=row.recipient,
        message_id=row.message_id,
        email=RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body),
    )
    try:
        await send(smtp, message)
    except Exception as error:
        async with transaction(sessions) as session:
            await session.exec(
                update(OutboxEmail)
                .where(col(OutboxEmail.id) == row.id)
                .values(attempts=OutboxEmail.attempts + 1, last_error=str(error)[:1000])
            )
        raise
    async with transaction(sessions) as session:
        result = await session.exec(
            update(OutboxEmail)
            .where(col(OutboxEmail.id) == row.id, col(OutboxEmail.status) == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENT, sent_at=utcnow(), attempts=OutboxEmail.attempts + 1)
        )
        if result.rowcount == 0:
            return False
        await audit.record(
            session,
            actor=MAILER,
            entity_type="measure" if row.measure_id else "email",
            entity_id=row.measure_id or row.id or 0,
            action="email.sent",
            after={"purpose": row.business_key, "recipient": row.recipient, "subject": row.subject},
        )
    return True


async def _by_key(session: AsyncSession, business_key: str) -> OutboxEmail | None:
    return (
        await session.exec(select(OutboxEmail).where(OutboxEmail.business_key == business_key))
    ).first()
