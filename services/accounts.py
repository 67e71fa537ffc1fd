"""Who is signed in: passwords (argon2 through pwdlib), browser sessions and API tokens.

Tokens are 256 random bits; the database keeps their SHA-256 only. A deactivated person's
sessions and tokens stop working at once, because every request looks the person up.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import cache
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts import ApiToken, WebSession
from models.audit import Actor, Channel
from models.columns import utcnow
from models.people import Person
from notifications.links import new_token, token_hash
from services import audit
from services.db import transaction

SESSION_LIFETIME = timedelta(hours=12)
_hasher = PasswordHash.recommended()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no such person")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def check_password(session: AsyncSession, *, email: str, password: str) -> Person | None:
    """The active person with this email and password, or None."""
    person = (
        await session.exec(select(Person).where(Person.email == email.strip().lower()))
    ).first()
    stored = person.password_hash if person and person.password_hash else _DUMMY_HASH
    # Argon2 takes tens of milliseconds of CPU by design: off the event loop, so the other
    # requests (and /healthz) do not wait for it.
    valid = await asyncio.to_thread(_hasher.verify, password, stored)
    if person is None or not person.active or not person.password_hash or not valid:
        return None
    return person


async def start_session(sessions: async_sessionmaker[AsyncSession], person: Person) -> str:
    """A new browser session for `person`; the token for the cookie."""
    token = new_token()
    async with transaction(sessions) as session:
        session.add(
            WebSession(
                token_hash=token_hash(token),
                person_id=person.id or 0,
                expires_at=utcnow() + SESSION_LIFETIME,
            )
        )
        await _audit(session, person, Channel.PAGE, "person.signed_in")
    return token


async def end_session(sessions: async_sessionmaker[AsyncSession], token: str) -> None:
    async with transaction(sessions) as session:
        await session.exec(
            update(WebSession)
            .where(col(WebSession.token_hash) == token_hash(token))
            .values(ended_at=utcnow())
        )


async def session_person(session: AsyncSession, token: str) -> Person | None:
    """The active person whose live browser session `token` is."""
    # One statement, person and session together: every signed-in request asks.
    found = (
        await session.exec(
            select(Person, WebSession.expires_at)
            .join(WebSession, col(WebSession.person_id) == col(Person.id))
            .where(
                col(WebSession.token_hash) == token_hash(token),
                col(WebSession.ended_at).is_(None),
                col(Person.active),
            )
        )
    ).first()
    if found is None or found[1] <= utcnow():
        return None
    return found[0]


async def issue_api_token(
    sessions: async_sessionmaker[AsyncSession], person: Person, name: str
) -> tuple[ApiToken, str]:
    """A new personal API token; the row and the token (shown once)."""
    token = new_token()
    row = ApiToken(token_hash=token_hash(token), person_id=person.id or 0, name=name)
    async with transaction(sessions) as session:
        session.add(row)
        await session.flush()
        await _audit(
            session, person, Channel.API, "api_token.issued", {"token_id": row.id, "name": name}
        )
    return row, token


async def token_person(session: AsyncSession, token: str) -> Person | None:
    """The active person an unrevoked API token belongs to."""
    found = await session.exec(_token_person(), params={"token_hash": token_hash(token)})
    return found.first()


@cache
def _token_person() -> Any:
    # One statement, person and token together, built once: every API request asks.
    return (
        select(Person)
        .join(ApiToken, col(ApiToken.person_id) == col(Person.id))
        .where(
            col(ApiToken.token_hash) == bindparam("token_hash"),
            col(ApiToken.revoked_at).is_(None),
            col(Person.active),
        )
    )


async def tokens_of(session: AsyncSession, person_id: int) -> list[ApiToken]:
    return list(
        (
            await session.exec(
                select(ApiToken).where(ApiToken.person_id == person_id).order_by(col(ApiToken.id))
            )
        ).all()
    )


async def revoke_api_token(
    sessions: async_sessionmaker[AsyncSession], person: Person, token_id: int
) -> bool:
    """Revoke one of the person's own tokens; False when they have no such live token."""
    async with transaction(sessions) as session:
        result = await session.exec(
            update(ApiToken)
            .where(
                col(ApiToken.id) == token_id,
                col(ApiToken.person_id) == person.id,
                col(ApiToken.revoked_at).is_(None),
            )
            .values(revoked_at=utcnow())
        )
        if result.rowcount != 1:
            return False
        await _audit(session, person, Channel.API, "api_token.revoked", {"token_id": token_id})
        return True


async def _audit(
    session: AsyncSession,
    person: Person,
    channel: Channel,
    action: str,
    after: dict[str, object] | None = None,
) -> None:
    """An audit event about `person`'s own access, done by them."""
    await audit.record(
        session,
        actor=Actor.person(person.id, channel),
        entity_type="person",
        entity_id=person.id or 0,
        action=action,
        after=after,
    )
