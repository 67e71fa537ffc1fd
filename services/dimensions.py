"""Business units and legal entities, as admins keep them (API and admin page alike)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.organization import BusinessUnit, LegalEntity, Organization
from services import audit
from services.errors import Conflict, FieldProblem, InvalidInput, NotFound

Dimension = type[BusinessUnit] | type[LegalEntity]
ENTITY = {BusinessUnit: "business_unit", LegalEntity: "legal_entity"}


async def of(
    session: AsyncSession, table: Dimension, organization_id: int | None = None
) -> list[Any]:
    query = select(table).order_by(col(table.code))
    if organization_id is not None:
        query = query.where(table.organization_id == organization_id)
    return list((await session.exec(query)).all())


async def add(session: AsyncSession, table: Dimension, data: dict[str, Any], actor: Actor) -> Any:
    """Add a business unit or legal entity; its code is unique in the organization."""
    if await session.get(Organization, data["organization_id"]) is None:
        raise InvalidInput(
            [FieldProblem("organization_id", f"no organization {data['organization_id']}")]
        )
    taken = await session.exec(
        select(table.id).where(
            table.organization_id == data["organization_id"], table.code == data["code"]
        )
    )
    if taken.first() is not None:
        raise Conflict(f"the organization already has the code {data['code']}")
    row = table(**data)
    session.add(row)
    await session.flush()
    await audit.change(session, actor, ENTITY[table], row.id or 0, "created", data)
    return row


async def rename(
    session: AsyncSession, table: Dimension, row_id: int, name: str, actor: Actor
) -> Any:
    row: Any = await session.get(table, row_id, with_for_update=True)
    if row is None:
        raise NotFound(f"{ENTITY[table].replace('_', ' ')} {row_id}")
    before = {"name": row.name}
    row.name = name
    session.add(row)
    await audit.change(session, actor, ENTITY[table], row_id, "renamed", {"name": name}, before)
    return row
