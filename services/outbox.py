"""The email outbox: each email is a row first, sent once, and recorded in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, Channel
from models.columns import utcnow
from models.outbox import OutboxEmail, OutboxStatus
from notifications.links import fill_links, link_url
from notifications.mailer import Mailer, build_message, message_id_for
from notifications.render import RenderedEmail
from services import audit
from services import links as _links
from services.db import transaction

MAILER = Actor(label="valuegate-mailer", channel=Channel.WORKFLOW)


@dataclass(frozen=True)
class Delivery:
    """How outbox emails leave: SMTP connections, the sender, and what signed links look like."""

    mailer: Mailer
    sender: str
    public_url: str
    link_ttl: timedelta


@dataclass(frozen=True)
class Outgoing:
    """An outbox row on its way, with the tokens of the links minted for its first sending
    (None when the row existed before: a new sending mints fresh links)."""

    row: OutboxEmail
    tokens: dict[str, str] | None = None


async def enqueue(
    session: AsyncSession,
    *,
    delivery: Delivery,
    business_key: str,
    measure_id: int | None,
    recipient: str,
    email: RenderedEmail,
    links: list[dict[str, Any]] | None = None,
) -> Outgoing:
    """Inside the caller's transaction: the outbox row for `business_key`, created (with its
    signed links) on first call and returned as is after.

    `links` (see services.links.spec) are the signed links the bodies hold placeholders for."""
    row = await _by_key(session, business_key)
    if row is not None:
        return Outgoing(row)
    now = utcnow()
    row = OutboxEmail(
        business_key=business_key,
        measure_id=measure_id,
        recipient=recipient,
        subject=email.subject,
        text_body=email.text,
        html_body=email.html,
        message_id=message_id_for(business_key, delivery.sender),
        links=links,
        created_at=now,
    )
    # A Core INSERT, not the ORM's unit of work: every lifecycle step queues emails.
    values = row.model_dump(exclude={"id"})
    row.id = (await session.exec(_insert(), params=values)).scalar_one()
    tokens = None
    if links:
        tokens = await _links.mint(
            session,
            email_key=business_key,
            specs=links,
            ttl=delivery.link_ttl,
            now=now,
            first_sending=True,
        )
    return Outgoing(row, tokens)


@cache
def _insert() -> Any:
    emails: Table = OutboxEmail.__table__  # type: ignore[attr-defined]
    return insert(emails).returning(emails.c.id)


@cache
def _mark_sent() -> Any:
    """A pending email marked sent (built once, a Core UPDATE: every email ends here)."""
    emails: Table = OutboxEmail.__table__  # type: ignore[attr-defined]
    return (
        update(emails)
        .where(emails.c.id == bindparam("email_id"), emails.c.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENT, sent_at=bindparam("sent_at"), attempts=emails.c.attempts + 1
        )
    )


async def deliver(
    sessions: async_sessionmaker[AsyncSession], *, outgoing: Outgoing, delivery: Delivery
) -> bool:
    """Send a pending outbox email; False when it had already been sent. SMTP errors propagate
    (after the attempt is counted) so the caller's retry policy decides when to try again."""
    row = outgoing.row
    if row.status is OutboxStatus.SENT:
        return False
    email = RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body)
    if row.links:
        tokens = outgoing.tokens
        if tokens is None:
            tokens = await _fresh_links(sessions, row, delivery)
        urls = {action: link_url(delivery.public_url, token) for action, token in tokens.items()}
        email = RenderedEmail(
            subject=row.subject,
            text=fill_links(row.text_body, urls),
            html=fill_links(row.html_body, urls),
        )
    message = build_message(
        sender=delivery.sender, recipient=row.recipient, message_id=row.message_id, email=email
    )
    try:
        await delivery.mailer.send(message)
    except Exception as error:
        async with transaction(sessions) as session:
            await session.exec(
                update(OutboxEmail)
                .where(col(OutboxEmail.id) == row.id)
                .values(attempts=OutboxEmail.attempts + 1, last_error=str(error)[:1000])
            )
        raise
    async with transaction(sessions) as session:
        result = await session.exec(_mark_sent(), params={"email_id": row.id, "sent_at": utcnow()})
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


async def _fresh_links(
    sessions: async_sessionmaker[AsyncSession], row: OutboxEmail, delivery: Delivery
) -> dict[str, str]:
    """Links for another sending of `row`; those of earlier sendings stop working."""
    async with transaction(sessions) as session:
        return await _links.mint(
            session,
            email_key=row.business_key,
            specs=row.links or [],
            ttl=delivery.link_ttl,
            now=utcnow(),
        )


async def _by_key(session: AsyncSession, business_key: str) -> OutboxEmail | None:
    return (
        await session.exec(select(OutboxEmail).where(OutboxEmail.business_key == business_key))
    ).first()
