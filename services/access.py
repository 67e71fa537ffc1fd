"""Who may see what: admins everything; portfolio managers and steering-committee members their
portfolios' measures; everyone else the measures they own, sponsor or control. Expressed as SQL,
so lists are filtered in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, true, union
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts import PortfolioManager
from models.gates import SteeringMember
from models.measure import Measure
from models.organization import MeasurePackage, Program, Project
from models.people import Person


def portfolios_of(person_id: int) -> Any:
    """The portfolios a person manages or steers (a selectable of ids)."""
    return union(
        select(PortfolioManager.portfolio_id).where(PortfolioManager.person_id == person_id),
        select(SteeringMember.portfolio_id).where(SteeringMember.person_id == person_id),
    )


def visible_measures(person: Person) -> Any:
    """A WHERE clause on Measure: the measures `person` may see."""
    if person.is_admin:
        return true()
    pid = person.id or 0
    packages_in_my_portfolios = (
        select(MeasurePackage.id)
        .join(Project, col(Project.id) == MeasurePackage.project_id)
        .join(Program, col(Program.id) == Project.program_id)
        .where(col(Program.portfolio_id).in_(portfolios_of(pid)))
    )
    return or_(
        col(Measure.owner_id) == pid,
        col(Measure.sponsor_id) == pid,
        col(Measure.controller_id) == pid,
        col(Measure.package_id).in_(packages_in_my_portfolios),
    )


async def sees_measure(session: AsyncSession, person: Person, measure_id: int) -> bool:
    found = await session.exec(
        select(Measure.id).where(Measure.id == measure_id, visible_measures(person))
    )
    return found.first() is not None


async def manages_portfolio(session: AsyncSession, person: Person, portfolio_id: int) -> bool:
    """Admins and the portfolio's managers set its policy and create its measures."""
    if person.is_admin:
        return True
    found = await session.exec(
        select(PortfolioManager.person_id).where(
            PortfolioManager.portfolio_id == portfolio_id,
            PortfolioManager.person_id == person.id,
        )
    )
    return found.first() is not None


async def edits_figures(session: AsyncSession, person: Person, measure: Measure) -> bool:
    """The measure's owner, its portfolio's managers and admins edit its figures."""
    if person.id is not None and person.id == measure.owner_id:
        return True
    portfolio = (
        await session.exec(
            select(Program.portfolio_id)
            .join(Project, col(Project.program_id) == Program.id)
            .join(MeasurePackage, col(MeasurePackage.project_id) == Project.id)
            .where(MeasurePackage.id == measure.package_id)
        )
    ).one()
    return await manages_portfolio(session, person, portfolio)
