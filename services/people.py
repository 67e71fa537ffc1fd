"""People, as admins keep them: adding, changing, (de)activating. The API and the admin page
both come here, so both check and audit the same way."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.columns import utcnow
from models.people import Person, PersonCreate, PersonUpdate
from services import accounts, audit, links
from services.errors import Conflict, FieldProblem, InvalidInput, NotFound


async def add(session: AsyncSession, *, data: PersonCreate, actor: Actor) -> Person:
    email = data.email.lower()
    if (await session.exec(select(Person.id).where(Person.email == email))).first() is not None:
        raise Conflict(f"someone already has the email {email}")
    person = Person(
        email=email,
        name=data.name,
        is_admin=data.is_admin,
        password_hash=accounts.hash_password(data.password) if data.password else None,
    )
    session.add(person)
    try:
        await session.flush()
    except IntegrityError as error:  # the same email, added at the same moment
        raise Conflict(f"someone already has the email {email}") from error
    await audit.change(session, actor, "person", person.id or 0, "created", shown(person))
    return person


async def change(
    session: AsyncSession, *, person_id: int, data: PersonUpdate, admin: Person, actor: Actor
) -> Person:
    """Apply the fields set in `data` (a null leaves a field as it is)."""
    if person_id == admin.id and (data.active is False or data.is_admin is False):
        raise InvalidInput(
            [
                FieldProblem(
                    "active", "you cannot deactivate yourself or take away your own admin role"
                )
            ]
        )
    person = await session.get(Person, person_id, with_for_update=True)
    if person is None:
        raise NotFound(f"person {person_id}")
    before = shown(person)
    if data.active is False and person.active:
        # Their emailed links die with their account: nobody decides in their name any more.
        await links.revoke_for_person(
            session, person_id=person_id, reason=f"{person.name} was deactivated", now=utcnow()
        )
    for name, value in data.model_dump(
        exclude_unset=True, exclude_none=True, exclude={"password"}
    ).items():
        setattr(person, name, value)
    if data.password:
        person.password_hash = accounts.hash_password(data.password)
    session.add(person)
    after = shown(person) | ({"password": "changed"} if data.password else {})
    await audit.change(session, actor, "person", person.id or 0, "updated", after, before)
    return person


async def everyone(session: AsyncSession) -> list[Person]:
    return list(
        (await session.exec(select(Person).order_by(col(Person.name), col(Person.id)))).all()
    )


def shown(person: Person) -> dict[str, object]:
    """What the audit trail records of a person (never the password hash)."""
    return {
        "email": person.email,
        "name": person.name,
        "active": person.active,
        "is_admin": person.is_admin,
    }
