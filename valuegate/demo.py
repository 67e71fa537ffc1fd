"""A realistic demo portfolio for `valuegate dev`: an IT-services firm with two legal entities,
two portfolios and 30 measures in every stage, whose figures show every status colour."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from models import forecasts
from models.audit import Actor, Channel
from models.figures import ImpactLine, Milestone, MonthlyValue
from models.fx import FxRate
from models.gates import SteeringMember
from models.measure import Measure
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
from models.policy import EscalationTimings, default_policy
from models.stages import Stage
from services import accounts, audit, lifecycle, measures, policies, totals
from services.db import transaction

SEEDER = Actor(label="demo-seed", channel=Channel.SEED)

PEOPLE = [
    ("anna.keller@northwind.example", "Anna Keller"),  # owners 0-4
    ("ben.okafor@northwind.example", "Ben Okafor"),
    ("carla.mendes@northwind.example", "Carla Mendes"),
    ("david.lindqvist@northwind.example", "David Lindqvist"),
    ("elif.yilmaz@northwind.example", "Elif Yilmaz"),
    ("frank.weber@northwind.example", "Frank Weber"),  # sponsors 5-7
    ("grace.chen@northwind.example", "Grace Chen"),
    ("hannah.schulz@northwind.example", "Hannah Schulz"),
    ("ivan.petrov@northwind.example", "Ivan Petrov"),  # controllers 8-9
    ("julia.novak@northwind.example", "Julia Novak"),
    ("karim.haddad@northwind.example", "Karim Haddad"),  # steering committee 10-11
    ("laura.rossi@northwind.example", "Laura Rossi"),
    ("mia.admin@northwind.example", "Mia Admin"),  # admin 12
]
ADMIN = 12
# Every demo person signs in with this password (the demo is for trying things out, locally).
DEMO_PASSWORD = "valuegate-demo"  # noqa: S105 (published on purpose: local demo only)
OWNERS, SPONSORS, CONTROLLERS, STEERING = range(0, 5), range(5, 8), range(8, 10), range(10, 12)

# One portfolio escalates in minutes, so a visitor of the demo can watch the ladder happen.
FAST_PORTFOLIO = "Growth & Services"
FAST_TIMINGS = EscalationTimings(
    remind_after=timedelta(minutes=2),
    escalate_after=timedelta(minutes=5),
    final_escalation_after=timedelta(minutes=10),
    stage_sla=timedelta(minutes=30),
    stage_escalate_after=timedelta(minutes=15),
)

# portfolio -> program -> project -> measure packages
HIERARCHY = {
    "Cost Transformation 2026": {
        "Data Center Exit": {
            "Frankfurt DC consolidation": ["Storage & compute", "Facilities"],
            "Dallas co-location exit": ["Dallas workloads"],
        },
        "Workplace Modernisation": {
            "Virtual desktop & devices": ["Desktop estate"],
            "Service desk transformation": ["Service desk"],
        },
    },
    "Growth & Services": {
        "Managed Services Expansion": {
            "Security services": ["Managed SOC"],
            "Cloud services": ["Migration factory"],
        },
        "Licensing Optimisation": {
            "Software asset management": ["Microsoft", "Database licences"],
        },
    },
}

# (title, business unit, legal entity, main category, annual potential)
MEASURES = [
    ("Decommission legacy SAN storage in Frankfurt", "INFRA", "NW-DE", "cost_reduction", 420_000),
    ("Move 400 VMs to reserved cloud instances", "INFRA", "NW-DE", "cost_reduction", 610_000),
    ("Hot/cold aisle containment in Frankfurt DC", "INFRA", "NW-DE", "cost_reduction", 95_000),
    ("Retire backup tape library", "INFRA", "NW-DE", "cost_reduction", 60_000),
    ("Sell surplus server hardware", "INFRA", "NW-DE", "revenue_increase", 140_000),
    ("Close Dallas co-location cage", "INFRA", "NW-US", "cost_reduction", 380_000),
    ("Replace MPLS WAN with SD-WAN (US sites)", "INFRA", "NW-US", "cost_reduction", 270_000),
    ("Archive legacy file shares to cold storage", "INFRA", "NW-US", "cost_reduction", 48_000),
    (
        "Consolidate Citrix farms into one virtual desktop service",
        "WORK",
        "NW-DE",
        "cost_reduction",
        330_000,
    ),
    ("Standardise the laptop fleet on two models", "WORK", "NW-DE", "cost_reduction", 125_000),
    ("Follow-me printing and print fleet reduction", "WORK", "NW-DE", "cost_reduction", 70_000),
    ("Consolidate mobile phone contracts", "WORK", "NW-US", "cost_reduction", 88_000),
    ("Self-service password reset portal", "WORK", "NW-DE", "cost_reduction", 150_000),
    ("Shift L1 service desk to nearshore hub", "WORK", "NW-DE", "cost_reduction", 540_000),
    ("Event correlation to cut P1 incidents", "WORK", "NW-US", "cost_reduction", 210_000),
    ("Automate server patching", "WORK", "NW-US", "cost_reduction", 115_000),
    ("Managed SOC offering for mid-market clients", "APPS", "NW-US", "revenue_increase", 900_000),
    ("Upsell 24/7 support tier to top-20 accounts", "APPS", "NW-US", "revenue_increase", 480_000),
    ("Follow-the-sun network operations centre", "APPS", "NW-DE", "cost_reduction", 260_000),
    ("Cloud migration factory as a service", "APPS", "NW-DE", "revenue_increase", 1_200_000),
    ("SAP HANA hosting for external clients", "APPS", "NW-DE", "revenue_increase", 750_000),
    ("Digital adoption training offering", "APPS", "NW-US", "revenue_increase", 160_000),
    ("Renegotiate the Microsoft enterprise agreement", "APPS", "NW-DE", "cost_reduction", 820_000),
    ("Reclaim unused software licences", "APPS", "NW-DE", "cost_reduction", 190_000),
    ("Consolidate monitoring tools into one platform", "INFRA", "NW-DE", "cost_reduction", 135_000),
    ("Right-size Oracle database licences", "APPS", "NW-US", "cost_reduction", 460_000),
    ("Preferred supplier list for contractors", "WORK", "NW-US", "cost_reduction", 310_000),
    ("Decommission mainframe batch reporting", "INFRA", "NW-US", "cost_reduction", 520_000),
    ("FinOps tagging and idle-resource shutdown", "INFRA", "NW-DE", "cost_reduction", 240_000),
    ("Retire on-premises Exchange servers", "WORK", "NW-DE", "cost_reduction", 175_000),
]
STAGES = [
    *[Stage.DEFINED] * 5,
    *[Stage.IDENTIFIED] * 5,
    *[Stage.DETAILED] * 5,
    *[Stage.DECIDED] * 5,
    *[Stage.IMPLEMENTED] * 6,
    *[Stage.CLOSED] * 2,
    Stage.ON_HOLD,
    Stage.CANCELLED,
]
# How much of plan the actuals and forecasts reach: green, amber, red in turn.
ATTAINMENT = [Decimal("1.02"), Decimal("0.88"), Decimal("0.62")]
# Days the first open milestone is overdue: none (green), 7 (amber), 30 (red).
OVERDUE_DAYS = [0, 7, 30]


@dataclass
class _Refs:
    people: list[Person]
    units: dict[str, BusinessUnit]
    entities: dict[str, LegalEntity]
    packages: list[MeasurePackage]


async def is_seeded(session: AsyncSession) -> bool:
    """Whether the database already holds an organization."""
    return bool((await session.exec(select(func.count()).select_from(Organization))).one())


async def seed(
    sessions: async_sessionmaker[AsyncSession], *, temporal: Client, task_queue: str, today: date
) -> int:
    """Write the demo data and start every measure's workflow; returns the number of measures."""
    async with transaction(sessions) as session:
        refs = await _hierarchy(session)
        created = [
            await _measure(session, refs, index, spec, today) for index, spec in enumerate(MEASURES)
        ]
    async with sessions() as session:
        for measure in created:
            facts = await measures.facts(session, measure=measure, today=today)
            await lifecycle.start(temporal, facts=facts, task_queue=task_queue)
    return len(created)


async def _hierarchy(session: AsyncSession) -> _Refs:
    org = Organization(name="Northwind IT Services", group_currency="EUR")
    session.add(org)
    await session.flush()
    assert org.id is not None
    password_hash = accounts.hash_password(DEMO_PASSWORD)
    people = [
        Person(email=email, name=name, password_hash=password_hash, is_admin=i == ADMIN)
        for i, (email, name) in enumerate(PEOPLE)
    ]
    units = {
        code: BusinessUnit(organization_id=org.id, code=code, name=name)
        for code, name in [
            ("INFRA", "Infrastructure & Cloud"),
            ("WORK", "Digital Workplace"),
            ("APPS", "Application & Managed Services"),
        ]
    }
    entities = {
        "NW-DE": LegalEntity(
            organization_id=org.id, code="NW-DE", name="Northwind IT Services GmbH", currency="EUR"
        ),
        "NW-US": LegalEntity(
            organization_id=org.id, code="NW-US", name="Northwind IT Services Inc.", currency="USD"
        ),
    }
    session.add_all([*people, *units.values(), *entities.values()])
    # What one US dollar is worth in euros, so the roll-ups include the US entity's figures.
    session.add(FxRate(organization_id=org.id, currency="USD", rate=Decimal("0.92")))
    packages: list[MeasurePackage] = []
    for portfolio_name, programs in HIERARCHY.items():
        portfolio = Portfolio(
            organization_id=org.id, name=portfolio_name, steering_threshold=Decimal(500_000)
        )
        session.add(portfolio)
        await session.flush()
        assert portfolio.id is not None
        await session.flush()  # people first: steering members refer to them
        session.add_all(
            SteeringMember(portfolio_id=portfolio.id, person_id=people[i].id or 0) for i in STEERING
        )
        if portfolio_name == FAST_PORTFOLIO:
            fast = default_policy(portfolio.steering_threshold)
            fast.escalation = FAST_TIMINGS
            await policies.publish(session, portfolio_id=portfolio.id, policy=fast, actor=SEEDER)
        for program_name, projects in programs.items():
            program = Program(portfolio_id=portfolio.id or 0, name=program_name)
            session.add(program)
            await session.flush()
            for project_name, package_names in projects.items():
                project = Project(program_id=program.id or 0, name=project_name)
                session.add(project)
                await session.flush()
                for package_name in package_names:
                    package = MeasurePackage(project_id=project.id or 0, name=package_name)
                    session.add(package)
                    packages.append(package)
    await session.flush()
    await audit.record(
        session,
        actor=SEEDER,
        entity_type="organization",
        entity_id=org.id,
        action="demo.seeded",
        after={"name": org.name, "measures": len(MEASURES)},
    )
    return _Refs(people=people, units=units, entities=entities, packages=packages)


async def _measure(
    session: AsyncSession,
    refs: _Refs,
    index: int,
    spec: tuple[str, str, str, str, int],
    today: date,
) -> Measure:
    title, unit, entity, category, annual = spec
    rng = random.Random(index)
    stage = STAGES[index]
    complete = stage is not Stage.DEFINED or index % 2 == 0
    plan_start = date(today.year, 1, 1)
    measure = Measure(
        title=title,
        description=f"Demo measure {index + 1} of the Northwind IT Services transformation.",
        package_id=refs.packages[index % len(refs.packages)].id or 0,
        owner_id=refs.people[OWNERS[index % len(OWNERS)]].id,
        sponsor_id=refs.people[SPONSORS[index % len(SPONSORS)]].id if complete else None,
        controller_id=refs.people[CONTROLLERS[index % len(CONTROLLERS)]].id if complete else None,
        business_unit_id=refs.units[unit].id,
        legal_entity_id=refs.entities[entity].id if complete else None,
        plan_start=plan_start,
        horizon_months=24,
    )
    if stage not in (Stage.DEFINED, Stage.IDENTIFIED):
        measure.baseline_amount = Decimal(annual) * 3
        measure.baseline_period = f"FY{today.year - 1}"
        measure.baseline_source = "General ledger, cost centre report"
    session.add(measure)
    await session.flush()
    assert measure.id is not None
    if stage is not Stage.DEFINED:
        await _figures(
            session, measure.id, index, category, Decimal(annual), plan_start, today, rng,
            verified=stage is Stage.CLOSED,
        )  # fmt: skip
    if stage not in (Stage.DEFINED, Stage.IDENTIFIED):
        await _milestones(session, measure, index, today, stage)
    # The stage last: the database guards frozen plans and closed measures' figures.
    measure.stage = stage
    if stage in (Stage.DECIDED, Stage.IMPLEMENTED, Stage.CLOSED):
        measure.plan_frozen_at = datetime.now(UTC)
        measure.plan_version = 1
    if stage in forecasts.ASKED_IN:
        # Most owners confirmed their forecast this month; every fourth has not since the month
        # before last, so its value light is amber at best ("forecast not confirmed").
        stale = forecasts.stale_before(today) - timedelta(days=10)
        measure.forecast_confirmed_on = stale if index % 4 == 0 else today
    session.add(measure)
    await session.flush()
    await totals.refresh(session, [measure.id])  # figures, milestones and stage, all kept
    await audit.record(
        session,
        actor=SEEDER,
        entity_type="measure",
        entity_id=measure.id,
        action="measure.created",
        after={"title": title, "stage": stage.value},
    )
    return measure


async def _figures(
    session: AsyncSession,
    measure_id: int,
    index: int,
    category: str,
    annual: Decimal,
    plan_start: date,
    today: date,
    rng: random.Random,
    *,
    verified: bool = False,
) -> None:
    line = ImpactLine(
        measure_id=measure_id,
        category=ImpactCategory(category),
        description="Run-rate effect" if category == "cost_reduction" else "Additional margin",
        annual_potential=annual,
    )
    one_time = ImpactLine(
        measure_id=measure_id,
        category=ImpactCategory.ONE_TIME_COST,
        description="Implementation cost",
        annual_potential=-(annual / 4).quantize(Decimal(1)),
    )
    session.add_all([line, one_time])
    await session.flush()
    attainment = ATTAINMENT[index % len(ATTAINMENT)]
    go_live = 3 + rng.randrange(4)  # savings start a few months into the plan
    monthly = (annual / 12).quantize(Decimal("0.01"))
    values: list[MonthlyValue] = []
    for month in range(24):
        period = _add_months(plan_start, month)
        if month < go_live:  # phased at zero until the saving starts
            values.append(
                MonthlyValue(
                    impact_line_id=line.id or 0,
                    scenario=Scenario.PLAN,
                    period=period,
                    amount=Decimal(0),
                )
            )
            continue
        achieved = (monthly * attainment).quantize(Decimal("0.01"))
        values.append(
            MonthlyValue(
                impact_line_id=line.id or 0, scenario=Scenario.PLAN, period=period, amount=monthly
            )
        )
        values.append(
            MonthlyValue(
                impact_line_id=line.id or 0,
                scenario=Scenario.FORECAST,
                period=period,
                amount=achieved,
            )
        )
        if period < today.replace(day=1):
            values.extend(
                MonthlyValue(
                    impact_line_id=line.id or 0, scenario=scenario, period=period, amount=achieved
                )
                for scenario in (
                    (Scenario.ACTUAL, Scenario.VERIFIED) if verified else (Scenario.ACTUAL,)
                )
            )
    cost = -(annual / 4).quantize(Decimal("0.01"))
    for scenario in (Scenario.PLAN, Scenario.FORECAST):
        values.append(
            MonthlyValue(
                impact_line_id=one_time.id or 0, scenario=scenario, period=plan_start, amount=cost
            )
        )
    session.add_all(values)
    await session.flush()


async def _milestones(
    session: AsyncSession, measure: Measure, index: int, today: date, stage: Stage
) -> None:
    overdue = OVERDUE_DAYS[(index // len(ATTAINMENT)) % len(OVERDUE_DAYS)]
    finished = stage in (Stage.IMPLEMENTED, Stage.CLOSED)
    steps = [
        ("Business case signed off", today - timedelta(days=60), True),
        (
            "Cut-over completed",
            today - timedelta(days=overdue) if overdue else today + timedelta(days=30),
            finished,
        ),
        ("Legacy contract terminated", today + timedelta(days=90), finished),
    ]
    session.add_all(
        Milestone(
            measure_id=measure.id or 0,
            title=title,
            owner_id=measure.owner_id,
            planned_date=planned,
            done_date=planned if done and planned <= today else (today if done else None),
        )
        for title, planned, done in steps
    )


def _add_months(start: date, months: int) -> date:
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1)
