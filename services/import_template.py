"""The import workbook for an organization: its lists (business units, legal entities) and,
pre-filled on request, what it already has, so a portfolio can go out to Excel and back."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.figures import ImpactLine, Milestone, MonthlyValue
from models.import_sheets import FIGURES, HIERARCHY, LINES, MEASURES, MILESTONES
from models.measure import Measure
from models.money import Scenario
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
from services import workbooks
from services.errors import NotFound
from services.workbooks import Money

EXPORTED = (Scenario.PLAN, Scenario.FORECAST, Scenario.ACTUAL)


async def build(session: AsyncSession, *, organization_id: int, prefill: bool) -> bytes:
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"organization {organization_id}")
    units = (
        await session.exec(
            select(BusinessUnit)
            .where(BusinessUnit.organization_id == organization_id)
            .order_by(col(BusinessUnit.code))
        )
    ).all()
    entities = (
        await session.exec(
            select(LegalEntity)
            .where(LegalEntity.organization_id == organization_id)
            .order_by(col(LegalEntity.code))
        )
    ).all()
    choices = workbooks.Choices(
        business_units=[u.code for u in units],
        legal_entities=[(e.code, e.currency) for e in entities],
        prefill=(await _what_it_has(session, organization, units, entities) if prefill else {}),
    )
    return workbooks.template(choices)


async def _what_it_has(
    session: AsyncSession,
    organization: Organization,
    units: Any,
    entities: Any,
) -> dict[str, list[list[Any]]]:
    organization_id, group_currency = organization.id, organization.group_currency
    tree = (
        await session.exec(
            select(Portfolio.name, Program.name, Project.name, MeasurePackage)
            .join(Program, col(Program.portfolio_id) == Portfolio.id)
            .join(Project, col(Project.program_id) == Program.id)
            .join(MeasurePackage, col(MeasurePackage.project_id) == Project.id)
            .where(Portfolio.organization_id == organization_id)
            .order_by(col(MeasurePackage.id))
        )
    ).all()
    hierarchy = [[f"P{pkg.id}", a, b, c, pkg.name] for a, b, c, pkg in tree]
    found = (
        await session.exec(
            select(Measure)
            .where(col(Measure.package_id).in_([pkg.id for *_, pkg in tree]))
            .order_by(col(Measure.id))
        )
    ).all()
    emails = {p.id: p.email for p in (await session.exec(select(Person))).all()}
    unit_codes = {u.id: u.code for u in units}
    entity_codes = {e.id: e.code for e in entities}
    # Each amount in its measure's currency (its legal entity's; the group's until it has one).
    currency = {
        m.id: next((e.currency for e in entities if e.id == m.legal_entity_id), group_currency)
        for m in found
    }
    code = {m.id: m.external_id or f"M-{m.id}" for m in found}
    measures = [
        [
            code[m.id],
            m.title,
            f"P{m.package_id}",
            emails.get(m.owner_id),
            emails.get(m.sponsor_id),
            emails.get(m.controller_id),
            unit_codes.get(m.business_unit_id),
            entity_codes.get(m.legal_entity_id),
            m.plan_start,
            m.horizon_months,
            Money(m.baseline_amount, currency[m.id]),
            m.baseline_period,
            m.baseline_source,
            m.description or None,
        ]
        for m in found
    ]
    lines = (
        await session.exec(
            select(ImpactLine)
            .where(col(ImpactLine.measure_id).in_(list(code)))
            .order_by(col(ImpactLine.id))
        )
    ).all()
    key = {line.id: line.external_id or f"L-{line.id}" for line in lines}
    of_line = {line.id: line.measure_id for line in lines}
    line_rows = [
        [
            code[line.measure_id],
            key[line.id],
            line.category.value,
            line.description,
            Money(line.annual_potential, currency[line.measure_id]),
        ]
        for line in lines
    ]
    values = (
        await session.exec(
            select(MonthlyValue)
            .where(
                col(MonthlyValue.impact_line_id).in_(list(key)),
                col(MonthlyValue.scenario).in_(EXPORTED),
            )
            .order_by(
                col(MonthlyValue.impact_line_id),
                col(MonthlyValue.scenario),
                col(MonthlyValue.period),
            )
        )
    ).all()
    figure_rows = [
        [
            code[of_line[v.impact_line_id]],
            key[v.impact_line_id],
            v.scenario.value,
            v.period,
            Money(v.amount, currency[of_line[v.impact_line_id]]),
        ]
        for v in values
    ]
    milestones = (
        await session.exec(
            select(Milestone)
            .where(col(Milestone.measure_id).in_(list(code)))
            .order_by(col(Milestone.measure_id), col(Milestone.planned_date))
        )
    ).all()
    milestone_rows = [
        [code[m.measure_id], m.title, m.planned_date, emails.get(m.owner_id), m.done_date]
        for m in milestones
    ]
    return {
        HIERARCHY.name: hierarchy,
        MEASURES.name: measures,
        LINES.name: line_rows,
        FIGURES.name: figure_rows,
        MILESTONES.name: milestone_rows,
    }
