"""Signed links in the database: minted when their email is sent, claimed once, revoked when
the gate they act on is no longer theirs to decide."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, Channel
from models.links import LinkAction, SignedLink
from notifications.links import new_token, token_hash
from services import audit
from services.db import transaction


def spec(*, measure_id: int, gate_round: int, action: LinkAction, person_id: int) -> dict[str, Any]:
    """What the outbox keeps about a link to mint (no token)."""
    return {
        "measure_id": measure_id,
        "gate_round": gate_round,
        "action": action.value,
        "person_id": person_id,
    }


async def mint(
    session: AsyncSession,
    *,
    email_key: str,
    specs: list[dict[str, Any]],
    ttl: timedelta,
    now: datetime,
    first_sending: bool = False,
) -> dict[str, str]:
    """Fresh links for one sending of an email, action → token; links minted for an earlier
    sending of the same email stop working (there are none on its `first_sending`)."""
    if not first_sending:
        await session.exec(
            _open()
            .where(col(SignedLink.email_key) == email_key)
            .values(revoked_at=now, revoke_reason="a newer copy of the email was sent")
        )
    tokens = {str(item["action"]): new_token() for item in specs}
    # One Core INSERT for all of them: every approval request carries two links.
    await session.exec(
        insert(SignedLink),
        params=[
            {
                "token_hash": token_hash(tokens[str(item["action"])]),
                "measure_id": item["measure_id"],
                "gate_round": item["gate_round"],
                "action": LinkAction(item["action"]),
                "person_id": item["person_id"],
                "email_key": email_key,
                "created_at": now,
                "expires_at": now + ttl,
            }
            for item in specs
        ],
    )
    return tokens


async def find(session: AsyncSession, token: str) -> SignedLink | None:
    """The link `token` stands for, if any."""
    return (
        await session.exec(select(SignedLink).where(SignedLink.token_hash == token_hash(token)))
    ).first()


async def claim(
    sessions: async_sessionmaker[AsyncSession], link: SignedLink, now: datetime
) -> bool:
    """Mark the link used if it still can be, with its audit event; True for exactly one of any
    concurrent callers."""
    async with transaction(sessions) as session:
        result = await session.exec(
            _open()
            .where(col(SignedLink.id) == link.id, col(SignedLink.expires_at) > now)
            .values(used_at=now)
        )
        if result.rowcount != 1:
            return False
        await _audit(session, link, "link.used")
        return True


async def refused(
    sessions: async_sessionmaker[AsyncSession], link: SignedLink, reason: str
) -> None:
    """Record that the link was presented and refused (used, expired, revoked, forged form)."""
    async with transaction(sessions) as session:
        await _audit(session, link, "link.refused", reason)


async def end(
    sessions: async_sessionmaker[AsyncSession], link: SignedLink, reason: str, now: datetime
) -> None:
    """Retire a claimed link whose action the lifecycle refused (e.g. no longer the approver)."""
    async with transaction(sessions) as session:
        await session.exec(
            update(SignedLink)
            .where(col(SignedLink.id) == link.id)
            .values(used_at=None, revoked_at=now, revoke_reason=reason[:300])
        )


async def release(sessions: async_sessionmaker[AsyncSession], link_id: int) -> None:
    """Undo a claim whose action did not happen (e.g. figures to correct, server unreachable)."""
    async with transaction(sessions) as session:
        await session.exec(
            update(SignedLink).where(col(SignedLink.id) == link_id).values(used_at=None)
        )


async def revoke(
    session: AsyncSession,
    *,
    measure_id: int,
    reason: str,
    now: datetime,
    gate_round: int | None = None,
    link_id: int | None = None,
    person_id: int | None = None,
) -> None:
    """End the open links of a measure (of one gate, one person or one link), inside the
    caller's transaction."""
    statement = _open().where(col(SignedLink.measure_id) == measure_id)
    if gate_round is not None:
        statement = statement.where(col(SignedLink.gate_round) == gate_round)
    if person_id is not None:
        statement = statement.where(col(SignedLink.person_id) == person_id)
    if link_id is not None:
        statement = statement.where(col(SignedLink.id) == link_id)
    await session.exec(statement.values(revoked_at=now, revoke_reason=reason[:300]))


async def revoke_for_person(
    session: AsyncSession, *, person_id: int, reason: str, now: datetime
) -> None:
    """End every open link of a person (deactivated), inside the caller's transaction."""
    statement = _open().where(col(SignedLink.person_id) == person_id)
    await session.exec(statement.values(revoked_at=now, revoke_reason=reason[:300]))


async def _audit(
    session: AsyncSession, link: SignedLink, action: str, reason: str | None = None
) -> None:
    await audit.record(
        session,
        actor=Actor.person(link.person_id, Channel.EMAIL_LINK),
        entity_type="measure",
        entity_id=link.measure_id,
        action=action,
        after={"link_id": link.id, "gate_round": link.gate_round, "action": link.action.value},
        reason=reason,
    )


def _open() -> Any:
    return update(SignedLink).where(
        col(SignedLink.used_at).is_(None), col(SignedLink.revoked_at).is_(None)
    )
