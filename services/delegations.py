"""Naming, listing and revoking deputies, and finding who deputises for whom on a given day.
The API, the account page and the admin page come here, so all check and audit alike; the
lifecycle asks `acting_for` before it takes a deputy's decision."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.columns import utcnow
from models.delegation import Delegation, DelegationCreate, DelegationPublic
from models.people import Person
from services import audit
from services.db import transaction
from services.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound


async def name_deputy(
    sessions: async_sessionmaker[AsyncSession],
    *,
    person_id: int,
    data: DelegationCreate,
    by: Person,
    actor: Actor,
    today: date,
) -> Delegation:
    """`person_id` names a deputy for a date range: the person themselves, or an admin for them."""
    if by.id != person_id and not by.is_admin:
        await _refused(sessions, actor, person_id, "name a deputy for another person")
        raise Forbidden("only the person themselves or an admin names their deputy")
    async with transaction(sessions) as session:
        return await _name_deputy(session, person_id, data, by, actor, today)


async def _name_deputy(
    session: AsyncSession,
    person_id: int,
    data: DelegationCreate,
    by: Person,
    actor: Actor,
    today: date,
) -> Delegation:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id}")
    problems = []
    deputy = await session.get(Person, data.deputy_id)
    if data.deputy_id == person_id:
        problems.append(FieldProblem("deputy_id", "a person cannot deputise for themselves"))
    elif deputy is None or not deputy.active:
        problems.append(FieldProblem("deputy_id", "no active person has this id"))
    if data.ends_on < today:
        problems.append(FieldProblem("ends_on", "the delegation would already have ended"))
    if problems:
        raise InvalidInput(problems)
    delegation = Delegation(
        person_id=person.id or 0,
        deputy_id=data.deputy_id,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        created_by=by.id or 0,
    )
    session.add(delegation)
    await session.flush()
    await audit.change(
        session, actor, "delegation", delegation.id or 0, "created", _shown(delegation)
    )
    return delegation


async def revoke(
    sessions: async_sessionmaker[AsyncSession], *, delegation_id: int, by: Person, actor: Actor
) -> Delegation:
    """End a delegation now (the person, the deputy or an admin may)."""
    async with sessions() as session:
        found = await session.get(Delegation, delegation_id)
    if found is None:
        raise NotFound(f"delegation {delegation_id}")
    if by.id not in (found.person_id, found.deputy_id) and not by.is_admin:
        await _refused(sessions, actor, found.person_id, "end another person's delegation")
        raise Forbidden("only the person, their deputy or an admin may end a delegation")
    async with transaction(sessions) as session:
        return await _revoke(session, delegation_id, by, actor)


async def _revoke(
    session: AsyncSession, delegation_id: int, by: Person, actor: Actor
) -> Delegation:
    delegation = await session.get(Delegation, delegation_id, with_for_update=True)
    if delegation is None:
        raise NotFound(f"delegation {delegation_id}")
    if delegation.revoked_at is not None:
        raise Conflict("the delegation has already been revoked")
    before = _shown(delegation)
    delegation.revoked_at = utcnow()
    delegation.revoked_by = by.id
    session.add(delegation)
    await session.flush()
    await audit.change(
        session, actor, "delegation", delegation.id or 0, "revoked", _shown(delegation), before
    )
    return delegation


async def listed(
    session: AsyncSession, *, person_id: int | None, today: date
) -> list[DelegationPublic]:
    """The delegations not revoked and not yet over, from or to `person_id` (everyone's with
    None), soonest first."""
    query = (
        select(Delegation)
        .where(col(Delegation.revoked_at).is_(None), Delegation.ends_on >= today)
        .order_by(col(Delegation.starts_on), col(Delegation.id))
    )
    if person_id is not None:
        query = query.where(
            or_(Delegation.person_id == person_id, Delegation.deputy_id == person_id)
        )
    return await _public(session, list((await session.exec(query)).all()), today)


async def one(session: AsyncSession, *, delegation_id: int, today: date) -> DelegationPublic:
    delegation = await session.get(Delegation, delegation_id)
    if delegation is None:
        raise NotFound(f"delegation {delegation_id}")
    return (await _public(session, [delegation], today))[0]


async def _public(
    session: AsyncSession, rows: list[Delegation], today: date
) -> list[DelegationPublic]:
    ids = {d.person_id for d in rows} | {d.deputy_id for d in rows}
    names = dict(
        (await session.exec(select(Person.id, Person.name).where(col(Person.id).in_(ids)))).all()
    )
    return [
        DelegationPublic(
            id=d.id or 0,
            person_id=d.person_id,
            person_name=names.get(d.person_id, ""),
            deputy_id=d.deputy_id,
            deputy_name=names.get(d.deputy_id, ""),
            starts_on=d.starts_on,
            ends_on=d.ends_on,
            created_by=d.created_by,
            revoked_at=d.revoked_at,
            active_today=d.active_on(today),
        )
        for d in rows
    ]


async def deputies(session: AsyncSession, person_ids: list[int], day: date) -> dict[int, list[int]]:
    """For each of `person_ids`, the active people deputising for them on `day`."""
    if not person_ids:
        return {}
    rows = (
        await session.exec(
            select(Delegation.person_id, Delegation.deputy_id)
            .join(Person, col(Person.id) == Delegation.deputy_id)
            .where(
                col(Delegation.person_id).in_(person_ids),
                col(Delegation.revoked_at).is_(None),
                Delegation.starts_on <= day,
                Delegation.ends_on >= day,
                col(Person.active).is_(True),
            )
            .order_by(col(Delegation.id))
        )
    ).all()
    found: dict[int, list[int]] = {}
    for person_id, deputy_id in rows:
        if deputy_id not in found.setdefault(person_id, []):
            found[person_id].append(deputy_id)
    return found


async def acting_for(
    session: AsyncSession, *, deputy_id: int, principals: list[int], day: date
) -> int | None:
    """The first of `principals` for whom `deputy_id` deputises on `day`, if any."""
    found = await deputies(session, principals, day)
    return next((p for p in principals if deputy_id in found.get(p, [])), None)


async def _refused(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, person_id: int, what: str
) -> None:
    """A refused attempt, audited in a transaction of its own: nothing else is written."""
    async with transaction(sessions) as session:
        await audit.record(
            session,
            actor=actor,
            entity_type="person",
            entity_id=person_id,
            action="delegation.refused",
            reason=f"may not {what}",
        )


def _shown(delegation: Delegation) -> dict[str, object]:
    return {
        "person_id": delegation.person_id,
        "deputy_id": delegation.deputy_id,
        "starts_on": delegation.starts_on.isoformat(),
        "ends_on": delegation.ends_on.isoformat(),
        "revoked_at": delegation.revoked_at.isoformat() if delegation.revoked_at else None,
    }
