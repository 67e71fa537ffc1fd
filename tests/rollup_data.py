"""A small portfolio with known figures, written straight into the database, for the roll-up
tests: two legal entities (EUR and USD), two programs, measures in every light."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.figures import ImpactLine, Milestone, MonthlyValue
from models.fx import FxRate
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
from models.stages import Stage
from services import totals
from services.db import transaction

TODAY = date(2027, 6, 30)
JAN, FEB = date(2027, 1, 1), date(2027, 2, 1)


@dataclass
class Figures:
    """One measure: its EBITDA line's plan / forecast / actual per month and its open milestone
    (days overdue, None for none)."""

    plan: dict[date, str] = field(default_factory=dict)
    forecast: dict[date, str] = field(default_factory=dict)
    actual: dict[date, str] = field(default_factory=dict)
    verified: dict[date, str] = field(default_factory=dict)
    overdue_days: int | None = None
    stage: Stage = Stage.IMPLEMENTED
    capex_plan: str | None = None
    forecast_confirmed_on: date | None = None


@dataclass(frozen=True)
class Tree:
    organization_id: int
    portfolio_id: int
    programs: dict[str, int]
    packages: dict[str, int]
    entities: dict[str, int]
    unit_id: int


async def make_tree(sessions: async_sessionmaker[AsyncSession], *, usd_rate: str | None) -> Tree:
    """Organization (group currency EUR) > portfolio > programs A and B, one package each."""
    async with transaction(sessions) as session:
        org = Organization(name="Rollup Corp", group_currency="EUR")
        session.add(org)
        await session.flush()
        oid = org.id or 0
        portfolio = Portfolio(organization_id=oid, name="Savings 2027")
        session.add(portfolio)
        await session.flush()
        programs, packages = {}, {}
        for name in ("A", "B"):
            program = Program(portfolio_id=portfolio.id or 0, name=f"Program {name}")
            session.add(program)
            await session.flush()
            project = Project(program_id=program.id or 0, name=f"Project {name}")
            session.add(project)
            await session.flush()
            package = MeasurePackage(project_id=project.id or 0, name=f"Package {name}")
            session.add(package)
            await session.flush()
            programs[name], packages[name] = program.id or 0, package.id or 0
        entities = {
            "EUR": LegalEntity(organization_id=oid, code="RC-DE", name="RC GmbH", currency="EUR"),
            "USD": LegalEntity(organization_id=oid, code="RC-US", name="RC Inc.", currency="USD"),
        }
        unit = BusinessUnit(organization_id=oid, code="OPS", name="Operations")
        session.add_all([*entities.values(), unit])
        if usd_rate is not None:
            session.add(FxRate(organization_id=oid, currency="USD", rate=Decimal(usd_rate)))
        await session.flush()
        return Tree(
            organization_id=oid,
            portfolio_id=portfolio.id or 0,
            programs=programs,
            packages=packages,
            entities={code: e.id or 0 for code, e in entities.items()},
            unit_id=unit.id or 0,
        )


async def add_measure(
    sessions: async_sessionmaker[AsyncSession],
    tree: Tree,
    figures: Figures,
    *,
    program: str = "A",
    currency: str = "EUR",
    title: str = "Measure",
    today: date = TODAY,
) -> int:
    """A measure with `figures`; its milestone is overdue counted from `today`."""
    async with transaction(sessions) as session:
        measure = Measure(
            title=title,
            package_id=tree.packages[program],
            legal_entity_id=tree.entities[currency],
            business_unit_id=tree.unit_id,
            stage=figures.stage,
            forecast_confirmed_on=figures.forecast_confirmed_on,
        )
        session.add(measure)
        await session.flush()
        mid = measure.id or 0
        line = ImpactLine(measure_id=mid, category=ImpactCategory.COST_REDUCTION, description="x")
        capex = ImpactLine(measure_id=mid, category=ImpactCategory.CAPEX, description="hardware")
        session.add_all([line, capex])
        await session.flush()
        scenarios = {
            Scenario.PLAN: figures.plan,
            Scenario.FORECAST: figures.forecast,
            Scenario.ACTUAL: figures.actual,
            Scenario.VERIFIED: figures.verified,
        }
        for scenario, by_month in scenarios.items():
            session.add_all(
                MonthlyValue(
                    impact_line_id=line.id or 0,
                    scenario=scenario,
                    period=month,
                    amount=Decimal(amount),
                )
                for month, amount in by_month.items()
            )
        if figures.capex_plan is not None:
            session.add(
                MonthlyValue(
                    impact_line_id=capex.id or 0,
                    scenario=Scenario.PLAN,
                    period=JAN,
                    amount=Decimal(figures.capex_plan),
                )
            )
        if figures.overdue_days is not None:
            session.add(
                Milestone(
                    measure_id=mid,
                    title="Go-live",
                    planned_date=today - timedelta(days=figures.overdue_days),
                )
            )
        # A finished milestone long overdue never counts.
        session.add(
            Milestone(
                measure_id=mid, title="Kick-off", planned_date=date(2020, 1, 1), done_date=JAN
            )
        )
        await session.flush()
        await totals.refresh(session, [mid])
        return mid
