"""Test data: a small organization with everything a measure needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from models.audit import Actor, Channel
from models.figures import ImpactLine, Milestone, MonthlyValue
from models.gates import SteeringMember
from models.measure import MeasureCreate
from models.money import ImpactCategory, Scenario
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
from models.stages import Stage
from services import accounts, lifecycle, measures, totals
from services.db import transaction

TESTER = Actor(label="test", channel=Channel.API)


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


async def make_org(
    sessions: async_sessionmaker[AsyncSession], currency: str = "EUR", tag: str = ""
) -> Org:
    """An organization with one portfolio > program > project > package and three people (whose
    emails carry `tag`, so one test can make several organizations)."""
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
        owner = Person(email=f"olivia.owner{tag}@acme.example", name="Olivia Owner")
        sponsor = Person(email=f"sam.sponsor{tag}@acme.example", name="Sam Sponsor")
        controller = Person(email=f"cleo.controller{tag}@acme.example", name="Cleo Controller")
        session.add_all([package, unit, entity, owner, sponsor, controller])
        await session.flush()
    for person in (owner, sponsor, controller):
        await give_api_token(sessions, person)
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


MONTHLY_PLAN = Decimal("10000.00")
HORIZON = 12
PLAN_START = date(2027, 1, 1)


def months(count: int = HORIZON, start: date = PLAN_START) -> list[date]:
    return [
        date(start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1, 1)
        for m in range(count)
    ]


async def complete_measure(
    sessions: async_sessionmaker[AsyncSession],
    org: Org,
    *,
    stage: Stage = Stage.DEFINED,
    title: str = "Decommission the legacy SAN",
    implemented: bool = False,
) -> int:
    """A measure at `stage` with everything every gate up to Implemented asks for (and, with
    `implemented`, finished milestones and actuals too)."""
    async with transaction(sessions) as session:
        measure, _ = await measures.create(
            session,
            data=MeasureCreate.model_validate(
                measure_payload(
                    org, title=title, horizon_months=HORIZON, plan_start=PLAN_START.isoformat()
                )
            ),
            actor=TESTER,
        )
        measure.stage = stage
        measure.baseline_amount = Decimal("480000.00")
        measure.baseline_period = "FY2026"
        measure.baseline_source = "SAN maintenance contract 2026"
        session.add(measure)
        line = ImpactLine(
            measure_id=measure.id or 0,
            category=ImpactCategory.COST_REDUCTION,
            description="SAN maintenance no longer paid",
            annual_potential=MONTHLY_PLAN * 12,
        )
        session.add(line)
        await session.flush()
        session.add_all(
            MonthlyValue(
                impact_line_id=line.id or 0, scenario=Scenario.PLAN, period=m, amount=MONTHLY_PLAN
            )
            for m in months()
        )
        session.add_all(
            Milestone(
                measure_id=measure.id or 0,
                title=title,
                owner_id=org.owner_id,
                planned_date=planned,
                done_date=planned if implemented else None,
            )
            for title, planned in (
                ("Data migrated", date(2027, 2, 1)),
                ("SAN switched off", date(2027, 3, 1)),
            )
        )
        if implemented:
            session.add_all(
                MonthlyValue(
                    impact_line_id=line.id or 0,
                    scenario=Scenario.ACTUAL,
                    period=m,
                    amount=MONTHLY_PLAN,
                )
                for m in months(2)
            )
        await session.flush()
        await totals.refresh(session, [measure.id or 0])
    assert measure.id is not None
    return measure.id


async def start_lifecycle(
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    measure_id: int,
    task_queue: str,
    history_limit: int | None = None,
) -> None:
    """Start the measure's workflow as the API does."""
    async with sessions() as session:
        measure = await measures.get(session, measure_id=measure_id)
        facts = await measures.facts(session, measure=measure, today=date.today())
    await lifecycle.start(client, facts=facts, task_queue=task_queue, history_limit=history_limit)


async def with_passwords(
    sessions: async_sessionmaker[AsyncSession], org: Org, password: str
) -> None:
    """Give the organization's owner, sponsor and controller `password`, to sign in."""
    async with transaction(sessions) as session:
        for person_id in (org.owner_id, org.sponsor_id, org.controller_id):
            person = await session.get(Person, person_id)
            assert person is not None
            person.password_hash = accounts.hash_password(password)
            session.add(person)


async def add_steering_member(
    sessions: async_sessionmaker[AsyncSession], org: Org, email: str
) -> int:
    async with transaction(sessions) as session:
        person = Person(email=email, name=email.split("@")[0].replace(".", " ").title())
        session.add(person)
        await session.flush()
        session.add(SteeringMember(portfolio_id=org.portfolio_id, person_id=person.id or 0))
    await give_api_token(sessions, person)
    return person.id or 0


# Each test person's personal API token, by person id: the REST API acts as whoever signed in.
API_TOKENS: dict[int, str] = {}


async def give_api_token(sessions: async_sessionmaker[AsyncSession], person: Person) -> str:
    """Issue `person` an API token and remember it for acting as them."""
    _, token = await accounts.issue_api_token(sessions, person, "tests")
    API_TOKENS[person.id or 0] = token
    return token


def as_person(person_id: int) -> dict[str, str]:
    """Headers that make a request act as `person_id`."""
    return {"Authorization": f"Bearer {API_TOKENS[person_id]}"}


async def add_person(
    sessions: async_sessionmaker[AsyncSession],
    *,
    email: str,
    name: str,
    password: str,
    admin: bool = False,
) -> Person:
    """A person (no admin, unless `admin`) who signs in with `password`."""
    async with transaction(sessions) as session:
        person = Person(
            email=email, name=name, password_hash=accounts.hash_password(password), is_admin=admin
        )
        session.add(person)
    return person
