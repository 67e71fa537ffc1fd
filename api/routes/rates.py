"""REST API for exchange rates: what one unit of a currency is worth in the organization's group
currency. Roll-ups and dashboards convert with them; admins keep them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from sqlmodel import col, select

from api.auth import SIGNED_IN, CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.columns import utcnow
from models.fx import FxRate, RatePublic, RateSet
from models.money import CURRENCIES
from models.organization import Organization
from services import audit, hierarchy
from services.db import transaction
from services.errors import FieldProblem, InvalidInput

router = APIRouter(
    prefix="/api/organizations/{organization_id}/rates",
    tags=["exchange rates"],
    responses=SIGNED_IN,
)
Currency = Annotated[
    str, Path(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$", examples=["USD"])
]
NO_ORG: dict[int | str, dict[str, Any]] = {404: {"description": "No such organization"}}
ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "Only an admin may do this"}}


@router.get("", response_model=list[RatePublic], responses=NO_ORG, summary="The rates in use")
async def list_rates(
    organization_id: RowId, person: CurrentPerson, session: SessionDep
) -> list[RatePublic]:
    level = hierarchy.LEVELS["organization"]
    if await hierarchy.find(session, level, organization_id, person) is None:
        raise HTTPException(404, f"organization {organization_id} not found")
    rows = await session.exec(
        select(FxRate)
        .where(FxRate.organization_id == organization_id)
        .order_by(col(FxRate.currency))
    )
    return [RatePublic.model_validate(r, from_attributes=True) for r in rows.all()]


async def _checked(session: Any, organization_id: int, currency: str) -> str:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise HTTPException(404, f"organization {organization_id} not found")
    code = currency.upper()
    if code not in CURRENCIES:
        raise InvalidInput([FieldProblem("currency", f"{currency!r} is not an ISO 4217 code")])
    if code == organization.group_currency:
        raise InvalidInput(
            [FieldProblem("currency", f"{code} is the group currency: its rate is always 1")]
        )
    return code


@router.put(
    "/{currency}",
    response_model=RatePublic,
    responses={**NO_ORG, **ADMIN_ONLY},
    summary="Set the rate of a currency (how many group-currency units one unit is worth)",
)
async def set_rate(
    organization_id: RowId,
    currency: Currency,
    body: RateSet,
    admin: CurrentAdmin,
    sessions: SessionsDep,
) -> RatePublic:
    async with transaction(sessions) as session:
        code = await _checked(session, organization_id, currency)
        row = (
            await session.exec(
                select(FxRate)
                .where(FxRate.organization_id == organization_id, FxRate.currency == code)
                .with_for_update()
            )
        ).first()
        before: dict[str, object] | None = {"rate": str(row.rate)} if row else None
        row = row or FxRate(organization_id=organization_id, currency=code, rate=body.rate)
        row.rate, row.updated_at = body.rate, utcnow()
        session.add(row)
        await session.flush()
        await _audit(session, admin, organization_id, "fx_rate.set",
                     {"currency": code, "rate": str(body.rate)}, before)  # fmt: skip
    return RatePublic.model_validate(row, from_attributes=True)


@router.delete(
    "/{currency}",
    status_code=204,
    responses={**NO_ORG, **ADMIN_ONLY},
    summary="Remove a rate (amounts in that currency then show as not converted)",
)
async def remove_rate(
    organization_id: RowId, currency: Currency, admin: CurrentAdmin, sessions: SessionsDep
) -> Response:
    async with transaction(sessions) as session:
        code = await _checked(session, organization_id, currency)
        row = (
            await session.exec(
                select(FxRate).where(
                    FxRate.organization_id == organization_id, FxRate.currency == code
                )
            )
        ).first()
        if row is None:
            raise HTTPException(404, f"no rate for {code}")
        await session.delete(row)
        await _audit(session, admin, organization_id, "fx_rate.removed", {"currency": code},
                     {"rate": str(row.rate)})  # fmt: skip
    return Response(status_code=204)


async def _audit(
    session: Any,
    admin: Any,
    organization_id: int,
    action: str,
    after: dict[str, object],
    before: dict[str, object] | None,
) -> None:
    await audit.record(
        session,
        actor=Actor.person(admin.id, Channel.API),
        entity_type="organization",
        entity_id=organization_id,
        action=action,
        before=before,
        after=after,
    )
