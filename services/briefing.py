"""What an email or a signed-link page tells about a measure: its figures per impact line and
period, the totals that matter to a decision, and what is missing for the next gate."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from models.criteria import (
    MeasureSnapshot,
    horizon,
    planned_annual_ebitda,
    planned_annual_ebitda_in_group,
    unmet_criteria,
)
from models.money import ImpactCategory, Scenario, ebitda_effect, format_money
from models.policy import Role
from models.stages import Stage, next_stage
from services import policies, snapshot

SHOWN = (Scenario.PLAN, Scenario.FORECAST, Scenario.ACTUAL, Scenario.VERIFIED)


@dataclass(frozen=True)
class LineFigures:
    """One impact line: its amounts per scenario and period (first day of the month)."""

    id: int
    category: ImpactCategory
    description: str
    amounts: dict[Scenario, dict[date, Decimal]]
    annual_potential: Decimal | None = None  # estimated run-rate, the legal entity's currency

    def amount(self, scenario: Scenario, period: date) -> Decimal | None:
        return self.amounts.get(scenario, {}).get(period)

    def total(self, scenario: Scenario, periods: list[date]) -> Decimal | None:
        """The sum of the scenario's amounts over `periods` (None when none is entered)."""
        found = [a for p in periods if (a := self.amount(scenario, p)) is not None]
        return sum(found, Decimal(0)) if found else None


@dataclass(frozen=True)
class Briefing:
    measure_id: int
    title: str
    stage: Stage
    currency: str
    periods: list[date]
    lines: list[LineFigures]
    annual_ebitda: Decimal  # the largest planned EBITDA effect in 12 consecutive months
    # The same in the organization's group currency; None when no rate converts it.
    annual_ebitda_in_group: Decimal | None
    next_gate: Stage | None
    people: dict[Role, list[int]]  # who acts for each role, by person id
    unmet: list[str] = field(default_factory=list)  # what the next gate still lacks

    @property
    def ref(self) -> str:
        return f"M-{self.measure_id}"

    @property
    def years(self) -> list[tuple[int, list[date]]]:
        """The plan horizon's months by calendar year."""
        by_year: dict[int, list[date]] = defaultdict(list)
        for period in self.periods:
            by_year[period.year].append(period)
        return sorted(by_year.items())

    def money(self, amount: Decimal | None) -> str:
        return "n/a" if amount is None else format_money(amount, self.currency)

    def ebitda_total(self, scenario: Scenario) -> Decimal:
        """The EBITDA effect of `scenario` over the plan horizon; for the forecast, actuals
        count where entered (actual-else-forecast)."""
        total = Decimal(0)
        for line in self.lines:
            for period in self.periods:
                amount = line.amount(scenario, period)
                if scenario is Scenario.FORECAST:
                    amount = line.amount(Scenario.ACTUAL, period) or amount
                total += ebitda_effect(line.category, amount or Decimal(0))
        return total


async def load(
    session: AsyncSession, *, measure_id: int, checklist: bool = True, committee: bool = True
) -> Briefing:
    """The briefing on the measure as it is now. `checklist=False` leaves out what the next gate
    lacks (it reads the gate policy and the milestones), `committee=False` the steering
    committee's members."""
    complete = checklist or committee
    rows = await snapshot.read(session, measure_id=measure_id, scenarios=SHOWN, complete=complete)
    snap = snapshot.build(rows)
    amounts: dict[int, dict[Scenario, dict[date, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for value in rows.values:
        amounts[value.impact_line_id][value.scenario][value.period] = value.amount
    upcoming = next_stage(snap.stage)
    return Briefing(
        measure_id=measure_id,
        title=snap.title,
        stage=snap.stage,
        currency=snap.currency or "EUR",
        periods=horizon(snap),
        lines=[
            LineFigures(
                id=line.id,
                category=line.category,
                description=line.description,
                amounts=dict(amounts[line.id]),
                annual_potential=line.annual_potential,
            )
            for line in rows.lines
        ],
        annual_ebitda=planned_annual_ebitda(snap),
        annual_ebitda_in_group=planned_annual_ebitda_in_group(snap),
        next_gate=upcoming,
        people={
            role: rows.people_ids(role)
            for role in Role
            if complete or role is not Role.STEERING_COMMITTEE
        },
        unmet=await _unmet(session, snap, upcoming) if checklist else [],
    )


async def _unmet(session: AsyncSession, snap: MeasureSnapshot, target: Stage | None) -> list[str]:
    if target is None or target is Stage.CLOSED:
        return []
    policy = await policies.current(session, portfolio_id=snap.portfolio_id)
    return [criterion.message for criterion in unmet_criteria(target, snap, policy)]
