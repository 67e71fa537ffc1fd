"""The email outbox: each email is a row first, sent once, and recorded in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, Channel
from models.columns import utcnow
from models.outbox import OutboxEmail, OutboxStatus
from notifications.links import fill_links, link_url
from notifications.mailer import SmtpConfig, build_message, message_id_for, send
from notifications.render import RenderedEmail
from services import audit, links
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
    links: list[dict[str, Any]] | None = None,
) -> OutboxEmail:
    """The outbox row for `business_key`, created on first call and returned as is after.

    `links` (see services.links.spec) are the signed links the bodies hold placeholders for."""
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
                links=links,
            )
            session.add(row)
        return row
    except IntegrityError:  # another attempt inserted it first
        async with sessions() as session:
            existing = await _by_key(session, business_key)
            assert existing is not None
            return existing


@dataclass(frozen=True)
class Delivery:
    """How outbox emails leave: the SMTP server, the sender, and what signed links look like."""

    smtp: SmtpConfig
    sender: str
    public_url: str
    link_ttl: timedelta


async def deliver(
    sessions: async_sessionmaker[AsyncSession], *, row: OutboxEmail, delivery: Delivery
) -> bool:
    """Send a pending outbox email; False when it had already been sent. SMTP errors propagate
    (after the attempt is counted) so the caller's retry policy decides when to try again."""
    if row.status is OutboxStatus.SENT:
        return False
    email = RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body)
    if row.links:
        email = await _with_fresh_links(sessions, row, delivery)
    message = build_message(
        sender=delivery.sender, recipient=row.recipient, message_id=row.message_id, email=email
    )
    try:
        await send(delivery.smtp, message)
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


async def _with_fresh_links(
    sessions: async_sessionmaker[AsyncSession], row: OutboxEmail, delivery: Delivery
) -> RenderedEmail:
    async with transaction(sessions) as session:
        tokens = await links.mint(
            session,
            email_key=row.business_key,
            specs=row.links or [],
            ttl=delivery.link_ttl,
            now=utcnow(),
        )
    urls = {action: link_url(delivery.public_url, token) for action, token in tokens.items()}
    return RenderedEmail(
        subject=row.subject,
        text=fill_links(row.text_body, urls),
        html=fill_links(row.html_body, urls),
    )


async def _by_key(session: AsyncSession, business_key: str) -> OutboxEmail | None:
    return (
        await session.exec(select(OutboxEmail).where(OutboxEmail.business_key == business_key))
    ).first()
