"""REST API for the portfolio dashboard."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import SIGNED_IN, CurrentPerson
from api.deps import SessionDep
from models.columns import MAX_ID
from models.organization import Organization
from models.people import Person
from models.rollups import Dashboard
from services import dashboard, hierarchy
from services.rollup import Filters

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"], responses=SIGNED_IN)
OptionalId = Field(default=None, ge=1, le=MAX_ID)


class DashboardQuery(BaseModel):
    """Which measures the dashboard covers (each filter narrows; none: the whole organization)."""

    model_config = {"extra": "forbid"}

    organization_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Default: the first you may see."
    )
    portfolio_id: int | None = OptionalId
    program_id: int | None = OptionalId
    business_unit_id: int | None = OptionalId
    legal_entity_id: int | None = OptionalId

    @field_validator("*", mode="before")
    @classmethod
    def _all_is_no_filter(cls, value: object) -> object:
        """The page's "All" choice sends an empty value: no filter."""
        return None if value == "" else value


async def build(
    session: AsyncSession, person: Person, chosen: DashboardQuery
) -> tuple[Organization | None, Dashboard]:
    """The organization shown and its dashboard; 404 for an organization not visible."""
    if chosen.organization_id is None:
        organization = await dashboard.default_organization(session, person)
    else:
        level = hierarchy.LEVELS["organization"]
        organization = await hierarchy.find(session, level, chosen.organization_id, person)
        if organization is None:
            raise HTTPException(404, f"organization {chosen.organization_id} not found")
    filters = Filters(
        **chosen.model_dump(exclude={"organization_id"}),
        organization_id=organization.id if organization else 0,
    )
    currency = organization.group_currency if organization else ""
    return organization, await dashboard.load(
        session, person=person, filters=filters, currency=currency, today=date.today()
    )


@router.get(
    "",
    response_model=Dashboard,
    responses={404: {"description": "No such organization (or not yours to see)"}},
    summary="Totals, pipeline by stage, dual-status matrix and EBITDA effect by month",
)
async def read_dashboard(
    chosen: Annotated[DashboardQuery, Query()], person: CurrentPerson, session: SessionDep
) -> Dashboard:
    return (await build(session, person, chosen))[1]
