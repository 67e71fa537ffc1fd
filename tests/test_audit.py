"""The audit trail is hash-chained: any edit, deletion or reordering is detected."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, AuditEvent, Channel
from models.people import Person
from services import audit
from services.db import create_engine, session_factory, transaction

PMO = Actor(person_id=7, label="pmo@acme.example", channel=Channel.API)


async def _write_events(sessions: async_sessionmaker[AsyncSession], count: int = 5) -> None:
    for number in range(1, count + 1):
        async with transaction(sessions) as session:
            await audit.record(
                session,
                actor=PMO,
                entity_type="measure",
                entity_id=number,
                action="measure.updated",
                before={"title": f"old {number}"},
                after={"title": f"new {number}"},
                reason="typo",
            )


async def _problems(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[int, str]]:
    async with sessions() as session:
        return [(p.event_id, p.problem) for p in await audit.verify_chain(session)]


async def _sql(sessions: async_sessionmaker[AsyncSession], statement: str) -> None:
    async with transaction(sessions) as session:
        await session.exec(text(statement))  # type: ignore[call-overload]


async def test_an_untouched_trail_verifies(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _write_events(sessions)
    assert await _problems(sessions) == []


async def test_an_edited_event_is_detected(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _write_events(sessions)
    await _sql(sessions, "UPDATE audit_event SET reason = 'nothing to see' WHERE id = 3")
    assert await _problems(sessions) == [(3, "content was changed after it was written")]


async def test_a_deleted_event_is_detected(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _write_events(sessions)
    await _sql(sessions, "DELETE FROM audit_event WHERE id = 2")
    problems = await _problems(sessions)
    assert (3, "events 2..2 are missing") in problems
    assert (3, "does not follow the event before it (deleted or reordered)") in problems


async def test_reordered_events_are_detected(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _write_events(sessions)
    # Swap the ids of events 2 and 4, so they are read in the other order.
    await _sql(sessions, "UPDATE audit_event SET id = 100 WHERE id = 2")
    await _sql(sessions, "UPDATE audit_event SET id = 2 WHERE id = 4")
    await _sql(sessions, "UPDATE audit_event SET id = 4 WHERE id = 100")
    problems = await _problems(sessions)
    assert {event_id for event_id, _ in problems} >= {2, 4}


async def test_events_removed_from_the_end_are_detected(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_events(sessions)
    await _sql(sessions, "DELETE FROM audit_event WHERE id >= 4")
    [(_, problem)] = await _problems(sessions)
    assert "trail ends at event 3 but was sealed up to event 5" in problem


async def test_an_event_slipped_in_after_the_end_is_detected(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_events(sessions, count=3)
    await _sql(
        sessions,
        "INSERT INTO audit_event (id, occurred_at, actor, channel, entity_type, entity_id, action,"
        " prev_hash, hash) SELECT 4, occurred_at, actor, channel, entity_type, entity_id, action,"
        " hash, hash FROM audit_event WHERE id = 3",
    )
    [(event_id, problem)] = await _problems(sessions)
    assert event_id == 4 and "added without being sealed" in problem


async def test_a_rolled_back_change_leaves_no_event(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_events(sessions, 2)
    try:
        async with transaction(sessions) as session:
            await audit.record(
                session, actor=PMO, entity_type="measure", entity_id=9, action="measure.updated"
            )
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    await _write_events(sessions, 1)
    assert await _problems(sessions) == []


async def test_writers_in_several_processes_append_one_after_another(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Two engines are two processes' connections (the api's and a worker's), each reading
    # the chain head and appending while the other does.
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        makers = [session_factory(engine) for engine in engines]

        async def append(maker: async_sessionmaker[AsyncSession], number: int) -> None:
            async with transaction(maker) as session:
                await session.exec(select(Person.id).limit(1))  # a read first, as links do
                await audit.record(
                    session, actor=PMO, entity_type="link", entity_id=number, action="link.refused"
                )

        await asyncio.gather(*(append(makers[n % 2], n) for n in range(40)))
    finally:
        for engine in engines:
            await engine.dispose()

    assert await _problems(sessions) == []
    async with sessions() as session:
        ids = (await session.exec(select(AuditEvent.id).order_by(AuditEvent.id))).all()
    assert ids == list(range(1, 41))
