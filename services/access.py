"""Who may see what: admins everything; portfolio managers and steering-committee members their
portfolios' measures; everyone else the measures they own, sponsor or control, and, while they
deputise, those their principal sponsors or controls. Expressed as SQL, so lists are filtered in
the database."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_, true, union
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts import PortfolioManager
from models.delegation import Delegation
from models.gates import SteeringMember
from models.measure import Measure
from models.organization import MeasurePackage, Program, Project
from models.people import Person


def portfolios_of(person_id: Any) -> Any:
    """The portfolios a person manages or steers (a selectable of ids); `person_id` is an id or
    a bound parameter."""
    return union(
        select(PortfolioManager.portfolio_id).where(PortfolioManager.person_id == person_id),
        select(SteeringMember.portfolio_id).where(SteeringMember.person_id == person_id),
    )


def visible_measures(person: Person) -> Any:
    """A WHERE clause on Measure: the measures `person` may see."""
    if person.is_admin:
        return true()
    return _seen_by(person.id or 0)


def packages_seen_whole(person: Person) -> Any:
    """A select of the ids of the packages every measure of which `person` may see (those of
    the portfolios they manage or steer); None for an admin, who sees every package whole."""
    return None if person.is_admin else _packages_of(person.id or 0)


def _packages_of(pid: Any) -> Any:
    return (
        select(MeasurePackage.id)
        .join(Project, col(Project.id) == MeasurePackage.project_id)
        .join(Program, col(Program.id) == Project.program_id)
        .where(col(Program.portfolio_id).in_(portfolios_of(pid)))
    )


def _seen_by(pid: Any) -> Any:
    """A WHERE clause on Measure: the measures of person `pid` (an id or a bound parameter) and
    of the portfolios they manage or steer."""
    packages_in_my_portfolios = _packages_of(pid)
    deputising_for = select(Delegation.person_id).where(
        Delegation.deputy_id == pid,
        col(Delegation.revoked_at).is_(None),
        col(Delegation.starts_on) <= func.current_date(),
        col(Delegation.ends_on) >= func.current_date(),
    )
    return or_(
        col(Measure.owner_id) == pid,
        col(Measure.sponsor_id) == pid,
        col(Measure.controller_id) == pid,
        col(Measure.package_id).in_(packages_in_my_portfolios),
        col(Measure.sponsor_id).in_(deputising_for),
        col(Measure.controller_id).in_(deputising_for),
    )


async def sees_measure(session: AsyncSession, person: Person, measure_id: int) -> bool:
    if person.is_admin:
        found = await session.exec(_exists(), params={"measure_id": measure_id})
    else:
        params = {"measure_id": measure_id, "person_id": person.id or 0}
        found = await session.exec(_seen(), params=params)
    return found.first() is not None


# Built once: every request about one measure asks (the API's visibility check).
@cache
def _exists() -> Any:
    return select(Measure.id).where(col(Measure.id) == bindparam("measure_id"))


@cache
def _seen() -> Any:
    return _exists().where(_seen_by(bindparam("person_id")))


async def sees_portfolio(session: AsyncSession, person: Person, portfolio_id: int) -> bool:
    """Admins, the portfolio's managers and steering committee, and whoever owns, sponsors or
    controls one of its measures see the portfolio's gate policy."""
    if person.is_admin:
        return True
    pid = person.id or 0
    steers = await session.exec(  # type: ignore[call-overload]
        union(
            select(PortfolioManager.portfolio_id).where(
                PortfolioManager.person_id == pid, PortfolioManager.portfolio_id == portfolio_id
            ),
            select(SteeringMember.portfolio_id).where(
                SteeringMember.person_id == pid, SteeringMember.portfolio_id == portfolio_id
            ),
        )
    )
    if steers.first() is not None:
        return True
    holds_a_role = await session.exec(
        select(Measure.id)
        .join(MeasurePackage, col(MeasurePackage.id) == Measure.package_id)
        .join(Project, col(Project.id) == MeasurePackage.project_id)
        .join(Program, col(Program.id) == Project.program_id)
        .where(
            col(Program.portfolio_id) == portfolio_id,
            or_(
                col(Measure.owner_id) == pid,
                col(Measure.sponsor_id) == pid,
                col(Measure.controller_id) == pid,
            ),
        )
        .limit(1)
    )
    return holds_a_role.first() is not None


async def manages_any_portfolio(session: AsyncSession, person: Person) -> bool:
    """Admins, and whoever manages at least one portfolio."""
    if person.is_admin:
        return True
    found = await session.exec(
        select(PortfolioManager.portfolio_id).where(PortfolioManager.person_id == person.id)
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
