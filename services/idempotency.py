"""Idempotency keys bound to their person and their request (see models.idempotency)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.idempotency import IdempotencyKey


class KeyReused(Exception):
    """The person used this key before for a different request; nothing was done."""

    def __init__(self, earlier: str) -> None:
        super().__init__(
            f"this Idempotency-Key was already used for a different request ({earlier}); "
            "send a new key for a new request"
        )


def fingerprint(operation: str, body: Any) -> str:
    """A hash of the request: its operation and its body, canonically serialised."""
    canonical = json.dumps([operation, body], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession, *, person_id: int, key: str, operation: str, body: Any
) -> tuple[IdempotencyKey, bool]:
    """The record of `person_id`'s `key` for this request, and whether this is its first use
    (then it is recorded now, in the caller's transaction). KeyReused when the key was used for
    another request. Of two concurrent first uses, one transaction fails on the unique key, and
    its retry finds the other's record."""
    sent = fingerprint(operation, body)
    earlier = (
        await session.exec(
            select(IdempotencyKey).where(
                IdempotencyKey.person_id == person_id, IdempotencyKey.key == key
            )
        )
    ).first()
    if earlier is None:
        record = IdempotencyKey(person_id=person_id, key=key, operation=operation, fingerprint=sent)
        session.add(record)
        await session.flush()
        return record, True
    if (earlier.operation, earlier.fingerprint) != (operation, sent):
        raise KeyReused(earlier.operation.replace("_", " "))
    return earlier, False


def update_id(person_id: int, key: str) -> str:
    """The Temporal update id for a person's key: another person's same key is another id."""
    return f"key-{person_id}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"
