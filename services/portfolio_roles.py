"""The roles people hold on a portfolio: its managers and its steering committee. Admins give
and take them (REST API and admin page alike); every change is one audit event."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts import PortfolioManager
from models.audit import Actor
from models.gates import SteeringMember
from models.organization import Portfolio
from models.people import Person
from services import audit
from services.errors import NotFound

RoleName = Literal["managers", "steering-committee"]
TABLES: dict[str, type[SQLModel]] = {
    "managers": PortfolioManager,
    "steering-committee": SteeringMember,
}
EVENT = {"managers": "manager", "steering-committee": "steering_member"}


async def holders(session: AsyncSession, role: str, portfolio_id: int) -> list[Person]:
    table: Any = TABLES[role]
    rows = await session.exec(
        select(Person)
        .join(table, col(table.person_id) == Person.id)
        .where(table.portfolio_id == portfolio_id)
        .order_by(col(Person.name))
    )
    return list(rows.all())


async def change(
    session: AsyncSession,
    *,
    role: str,
    portfolio_id: int,
    person_id: int,
    give: bool,
    actor: Actor,
) -> bool:
    """Give or take the role; False when it already was so (nothing recorded)."""
    table: Any = TABLES[role]
    if await session.get(Portfolio, portfolio_id) is None:
        raise NotFound(f"portfolio {portfolio_id}")
    if await session.get(Person, person_id) is None:
        raise NotFound(f"person {person_id}")
    row = await session.get(table, (portfolio_id, person_id))
    if give and row is None:
        session.add(table(portfolio_id=portfolio_id, person_id=person_id))
    elif not give and row is not None:
        await session.delete(row)
    else:
        return False
    verb = f"{EVENT[role]}_{'added' if give else 'removed'}"
    await audit.change(session, actor, "portfolio", portfolio_id, verb, {"person_id": person_id})
    return True
