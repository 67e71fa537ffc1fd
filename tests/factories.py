"""Test data: a small organization with everything a measure needs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.organization import (
    BusinessUnit,
    LegalEntity,
    MeasurePackage,
    Organization,
    Portfolio,
    Program,
    Project,
)
from models.people import Person
from services.db import transaction


@dataclass(frozen=True)
class Org:
    portfolio_id: int
    package_id: int
    business_unit_id: int
    legal_entity_id: int
    owner_id: int
    sponsor_id: int
    controller_id: int
    owner_email: str


async def make_org(sessions: async_sessionmaker[AsyncSession], currency: str = "EUR") -> Org:
    """An organization with one portfolio > program > project > package and three people."""
    async with transaction(sessions) as session:
        org = Organization(name="Acme IT", group_currency="EUR")
        session.add(org)
        await session.flush()
        assert org.id is not None
        portfolio = Portfolio(
            organization_id=org.id, name="Cost 2027", steering_threshold=Decimal(10**6)
        )
        session.add(portfolio)
        await session.flush()
        program = Program(portfolio_id=portfolio.id or 0, name="Data centre")
        session.add(program)
        await session.flush()
        project = Project(program_id=program.id or 0, name="Storage")
        session.add(project)
        await session.flush()
        package = MeasurePackage(project_id=project.id or 0, name="SAN")
        unit = BusinessUnit(organization_id=org.id, code="INFRA", name="Infrastructure")
        entity = LegalEntity(
            organization_id=org.id, code="AC-DE", name="Acme GmbH", currency=currency
        )
        owner = Person(email="olivia.owner@acme.example", name="Olivia Owner")
        sponsor = Person(email="sam.sponsor@acme.example", name="Sam Sponsor")
        controller = Person(email="cleo.controller@acme.example", name="Cleo Controller")
        session.add_all([package, unit, entity, owner, sponsor, controller])
        await session.flush()
        return Org(
            portfolio_id=portfolio.id or 0,
            package_id=package.id or 0,
            business_unit_id=unit.id or 0,
            legal_entity_id=entity.id or 0,
            owner_id=owner.id or 0,
            sponsor_id=sponsor.id or 0,
            controller_id=controller.id or 0,
            owner_email=owner.email,
        )


def measure_payload(org: Org, **overrides: object) -> dict[str, object]:
    """A complete, valid body for POST /api/measures."""
    return {
        "title": "Decommission the legacy SAN",
        "package_id": org.package_id,
        "owner_id": org.owner_id,
        "sponsor_id": org.sponsor_id,
        "controller_id": org.controller_id,
        "business_unit_id": org.business_unit_id,
        "legal_entity_id": org.legal_entity_id,
        "plan_start": "2027-01-01",
        **overrides,
    }
