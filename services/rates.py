"""Exchange rates into an organization's group currency, as admins keep them (API and admin page
alike): checked, one row per currency, every change audited."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.columns import utcnow
from models.fx import FxRate
from models.money import CURRENCIES
from models.organization import Organization
from services import audit
from services.errors import FieldProblem, InvalidInput, NotFound


async def of(session: AsyncSession, organization_id: int) -> list[FxRate]:
    rows = await session.exec(
        select(FxRate)
        .where(FxRate.organization_id == organization_id)
        .order_by(col(FxRate.currency))
    )
    return list(rows.all())


async def _checked(session: AsyncSession, organization_id: int, currency: str) -> str:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"organization {organization_id}")
    code = currency.strip().upper()
    if code not in CURRENCIES:
        raise InvalidInput([FieldProblem("currency", f"{currency!r} is not an ISO 4217 code")])
    if code == organization.group_currency:
        raise InvalidInput(
            [FieldProblem("currency", f"{code} is the group currency: its rate is always 1")]
        )
    return code


async def put(
    session: AsyncSession, *, organization_id: int, currency: str, rate: Decimal, actor: Actor
) -> FxRate:
    """Set (or replace) the rate of `currency`."""
    code = await _checked(session, organization_id, currency)
    row = (
        await session.exec(
            select(FxRate)
            .where(FxRate.organization_id == organization_id, FxRate.currency == code)
            .with_for_update()
        )
    ).first()
    before: dict[str, object] | None = {"rate": str(row.rate)} if row else None
    row = row or FxRate(organization_id=organization_id, currency=code, rate=rate)
    row.rate, row.updated_at = rate, utcnow()
    session.add(row)
    await session.flush()
    await _audit(session, actor, organization_id, "fx_rate.set",
                 {"currency": code, "rate": str(rate)}, before)  # fmt: skip
    return row


async def remove(
    session: AsyncSession, *, organization_id: int, currency: str, actor: Actor
) -> None:
    """Remove the rate of `currency`; amounts in it then show as not converted."""
    code = await _checked(session, organization_id, currency)
    row = (
        await session.exec(
            select(FxRate).where(FxRate.organization_id == organization_id, FxRate.currency == code)
        )
    ).first()
    if row is None:
        raise NotFound(f"rate for {code}")
    await session.delete(row)
    await _audit(session, actor, organization_id, "fx_rate.removed", {"currency": code},
                 {"rate": str(row.rate)})  # fmt: skip


async def _audit(
    session: AsyncSession,
    actor: Actor,
    organization_id: int,
    action: str,
    after: dict[str, object],
    before: dict[str, object] | None,
) -> None:
    await audit.record(
        session,
        actor=actor,
        entity_type="organization",
        entity_id=organization_id,
        action=action,
        before=before,
        after=after,
    )
