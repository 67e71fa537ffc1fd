"""Appending to and verifying the hash-chained audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import (
    GENESIS_HASH,
    Actor,
    AuditEvent,
    AuditHead,
    ChainProblem,
    event_hash,
    sealed_hash,
    to_json_value,
)
from models.columns import utcnow

VERIFY_BATCH = 1000
APPEND_CHUNK = 1000  # events per statement (14 parameters each)


@dataclass(frozen=True)
class Sealed:
    """An appended event: its place in the chain and its hash."""

    id: int
    hash: str


@dataclass(frozen=True)
class Entry:
    """One change to append to the trail."""

    actor: Actor
    entity_type: str
    entity_id: str | int
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str | None = None


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    entity_type: str,
    entity_id: str | int,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> Sealed:
    """Append one event to the chain, inside the caller's transaction."""
    entry = Entry(actor, entity_type, entity_id, action, before, after, reason)
    return (await append(session, [entry]))[0]


async def take_turn(session: AsyncSession) -> None:
    """Lock the chain's head until the caller's transaction ends, as `append` does: writers of
    data shared by many measures (kept totals) take it first, so they wait in the one queue
    every audited change waits in, and two of them never hold each other's locks."""
    statements = _statements()
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    await session.exec(statements.head if postgres else statements.lock_head)


async def append(session: AsyncSession, entries: Sequence[Entry]) -> list[Sealed]:
    """Append events to the chain in order, inside the caller's transaction.

    The chain head row is locked before it is read, so concurrent writers, in this process or
    another, append one after another and ids stay gapless: FOR UPDATE on PostgreSQL; on SQLite
    an UPDATE that returns the head, which takes the database's write lock first (a plain
    SELECT would run outside the write transaction and read a head another process is about to
    move). The head is read and moved once for all the entries.
    """
    if not entries:
        return []
    statements = _statements()
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    head = statements.head if postgres else statements.lock_head
    last_id, last_hash = (await session.exec(head)).one()
    events: list[dict[str, Any]] = []
    now = utcnow()
    for entry in entries:
        # Plain rows, not ORM objects: an import appends tens of thousands at once.
        event = {
            "id": last_id + 1,
            "occurred_at": now,
            "actor_id": entry.actor.person_id,
            "actor": entry.actor.label,
            "channel": entry.actor.channel,
            "entity_type": entry.entity_type,
            "entity_id": str(entry.entity_id),
            "action": entry.action,
            "before": to_json_value(entry.before) if entry.before is not None else None,
            "after": to_json_value(entry.after) if entry.after is not None else None,
            "reason": entry.reason,
            "prev_hash": last_hash,
        }
        event["hash"] = sealed_hash(event)
        events.append(event)
        last_id, last_hash = event["id"], event["hash"]
    # Core statements, not the ORM's unit of work: this runs for every change and every email.
    # A batch (an import) goes in chunks: one statement holds at most 65,535 parameters.
    for start in range(0, len(events), APPEND_CHUNK):
        chunk = events[start : start + APPEND_CHUNK]
        moved = {"last_id": chunk[-1]["id"], "last_hash": chunk[-1]["hash"]}
        if postgres and len(chunk) == 1:
            # The head stays locked until commit and every writer waits for it: on PostgreSQL
            # a single event goes in with the head's move in one statement, a round trip less
            # under the lock. SQLAlchemy cannot cache a statement with an INSERT in its WITH,
            # so it is compiled each time: cheap for one row, not for a batch, which goes in
            # as the cached many-row insert below.
            appended = insert(statements.events).values(chunk).cte("appended")
            await session.exec(statements.move_head.add_cte(appended), params=moved)
        else:
            await session.exec(statements.insert, params=chunk)
            await session.exec(statements.move_head, params=moved)
    return [Sealed(event["id"], event["hash"]) for event in events]


@dataclass(frozen=True)
class _Statements:
    events: Table
    head: Any
    lock_head: Any
    insert: Any
    move_head: Any


@cache
def _statements() -> _Statements:
    heads: Table = AuditHead.__table__  # type: ignore[attr-defined]
    events: Table = AuditEvent.__table__  # type: ignore[attr-defined]
    head = heads.c
    return _Statements(
        events=events,
        head=select(head.last_event_id, head.last_hash).where(head.id == 1).with_for_update(),
        lock_head=update(heads)
        .where(head.id == 1)
        .values(last_event_id=head.last_event_id)
        .returning(head.last_event_id, head.last_hash),
        insert=insert(events),
        move_head=update(heads)
        .where(head.id == 1)
        .values(last_event_id=bindparam("last_id"), last_hash=bindparam("last_hash")),
    )


async def change(
    session: AsyncSession,
    actor: Actor,
    entity: str,
    entity_id: str | int,
    verb: str,
    after: dict[str, Any] | None,
    before: dict[str, Any] | None = None,
) -> Sealed:
    """Record `<entity>.<verb>` on one entity (e.g. "legal_entity.renamed")."""
    return await record(
        session,
        actor=actor,
        entity_type=entity,
        entity_id=entity_id,
        action=f"{entity}.{verb}",
        before=before,
        after=after,
    )


async def verify_chain(session: AsyncSession) -> list[ChainProblem]:
    """Every place where the stored trail differs from what was sealed; empty when intact.

    The head is read first and the trail checked up to it: events appended while the check runs
    (each commits together with its head) are newer than what is being checked, not a gap.
    """
    head = (await session.exec(select(AuditHead).where(AuditHead.id == 1))).one()
    sealed_id, sealed_hash = head.last_event_id, head.last_hash
    problems: list[ChainProblem] = []
    expected_id, expected_prev = 1, GENESIS_HASH
    last_id = 0
    while True:
        batch = (
            await session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.id) > last_id, col(AuditEvent.id) <= sealed_id)
                .order_by(col(AuditEvent.id))
                .limit(VERIFY_BATCH)
            )
        ).all()
        if not batch:
            break
        for event in batch:
            if event.id != expected_id:
                problems.append(
                    ChainProblem(
                        event_id=event.id,
                        problem=f"events {expected_id}..{event.id - 1} are missing",
                    )
                )
            if event.prev_hash != expected_prev:
                problems.append(
                    ChainProblem(
                        event_id=event.id,
                        problem="does not follow the event before it (deleted or reordered)",
                    )
                )
            if event_hash(event) != event.hash:
                problems.append(
                    ChainProblem(
                        event_id=event.id, problem="content was changed after it was written"
                    )
                )
            expected_id, expected_prev = event.id + 1, event.hash
            last_id = event.id
    if sealed_id != last_id or sealed_hash != expected_prev:
        problems.append(
            ChainProblem(
                event_id=sealed_id,
                problem=f"the trail ends at event {last_id} but was sealed up to event "
                f"{sealed_id} (events at the end were removed)",
            )
        )
    # Events beyond the head: appended since (the head read now covers them), or slipped in
    # without being sealed. The highest id is read before the head, so a genuine append is
    # always covered.
    newest = (await session.exec(select(func.max(AuditEvent.id)))).one() or 0
    now_sealed = (
        await session.exec(select(AuditHead.last_event_id).where(AuditHead.id == 1))
    ).one()
    if newest > now_sealed:
        problems.append(
            ChainProblem(
                event_id=newest,
                problem=f"events after {now_sealed} were added without being sealed",
            )
        )
    return problems
