"""The hierarchy: organization > portfolio > program > project > measure package > measure.

One description per level (`LEVELS`) drives listing, creating, renaming and browsing, so every
level behaves the same. Who sees a node: admins every node; portfolio managers and steering
members the whole of their portfolios; everyone the path down to each measure they may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, true
from sqlalchemy import select as rows_of
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts import PortfolioManager
from models.audit import Actor
from models.measure import Measure
from models.organization import MeasurePackage, Organization, Portfolio, Program, Project
from models.people import Person
from models.rollups import NodeRef, NodeRollup, NodeView, Rollup
from services import access, audit, rollup
from services.errors import FieldProblem, Forbidden, InvalidInput, NotFound


@dataclass(frozen=True)
class Level:
    name: str  # "portfolio"
    plural: str  # "portfolios", also the path segment
    model: type[SQLModel]
    parent: str | None  # the parent level's name
    parent_field: str | None  # the column naming the parent row
    key: str  # the column of `paths()` (and of the roll-ups) that holds this level's id
    child: str | None  # the level below ("measure" under a package)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level("organization", "organizations", Organization, None, None, "organization_id",
              "portfolio"),
        Level("portfolio", "portfolios", Portfolio, "organization", "organization_id",
              "portfolio_id", "program"),
        Level("program", "programs", Program, "portfolio", "portfolio_id", "program_id",
              "project"),
        Level("project", "projects", Project, "program", "program_id", "project_id", "package"),
        Level("package", "packages", MeasurePackage, "project", "project_id", "package_id",
              "measure"),
    )
}  # fmt: skip
BY_PLURAL = {level.plural: level for level in LEVELS.values()}


def lineage(level: Level) -> Any:
    """(id, portfolio_id, organization_id) of every node of `level` (portfolio and below)."""
    assert level.name != "organization"
    query: Any = rows_of(
        col(level.model.id).label("id"),  # type: ignore[attr-defined]
        col(Portfolio.id).label("portfolio_id"),
        col(Portfolio.organization_id).label("organization_id"),
    )
    if level.name in ("package",):
        query = query.join(Project, col(Project.id) == MeasurePackage.project_id)
    if level.name in ("package", "project"):
        query = query.join(Program, col(Program.id) == Project.program_id)
    if level.name in ("package", "project", "program"):
        query = query.join(Portfolio, col(Portfolio.id) == Program.portfolio_id)
    return query.select_from(level.model)


def visible(level: Level, person: Person) -> Any:
    """A WHERE clause on `level.model`: the nodes `person` may see."""
    if person.is_admin:
        return true()
    own = access.portfolios_of(person.id or 0)
    paths = rollup.places(access.visible_measures(person)).subquery()
    if level.name == "organization":
        mine = select(Portfolio.organization_id).where(col(Portfolio.id).in_(own))
    else:
        nodes = lineage(level).subquery()
        mine = select(nodes.c.id).where(nodes.c.portfolio_id.in_(own))
    return or_(
        col(level.model.id).in_(mine),  # type: ignore[attr-defined]
        col(level.model.id).in_(select(paths.c[level.key])),  # type: ignore[attr-defined]
    )


async def find(session: AsyncSession, level: Level, node_id: int, person: Person) -> Any:
    """The node, or None when there is none or `person` may not see it."""
    query = select(level.model).where(
        level.model.id == node_id,  # type: ignore[attr-defined]
        visible(level, person),
    )
    return (await session.exec(query)).first()


async def children(
    session: AsyncSession, level: Level, node_id: int | None, person: Person
) -> list[Any]:
    """The visible nodes of `level` under the parent `node_id` (all roots for organizations)."""
    query = select(level.model).where(visible(level, person))
    if level.parent_field is not None and node_id is not None:
        query = query.where(getattr(level.model, level.parent_field) == node_id)
    query = query.order_by(col(level.model.name), col(level.model.id))  # type: ignore[attr-defined]
    return list((await session.exec(query)).all())


async def ancestors(session: AsyncSession, level: Level, node: Any) -> list[tuple[Level, Any]]:
    """The nodes above `node`, root first (for breadcrumbs)."""
    trail: list[tuple[Level, Any]] = []
    current_level, current = level, node
    while current_level.parent is not None:
        parent_level = LEVELS[current_level.parent]
        current = await session.get(
            parent_level.model, getattr(current, current_level.parent_field or "")
        )
        current_level = parent_level
        trail.append((current_level, current))
    return trail[::-1]


async def portfolio_of(session: AsyncSession, level: Level, node_id: int) -> int | None:
    """The portfolio a node belongs to (None for an organization or an unknown node)."""
    if level.name == "organization":
        return None
    nodes = lineage(level).subquery()
    found = await session.exec(select(nodes.c.portfolio_id).where(nodes.c.id == node_id))
    return found.first()


async def browse(
    session: AsyncSession, level: Level, node: Any, person: Person, today: date
) -> NodeView:
    """The node with its roll-up, the path above it and its children, each rolled up over the
    measures `person` may see."""
    where = access.visible_measures(person)
    scope = rollup.Filters(**{level.key: node.id})
    path = await ancestors(session, level, node)
    organization = path[0][1] if path else node  # the root of every path
    currency = str(organization.group_currency)
    if level.child == "measure":
        child_key, child_label = "id", "measure"
        below = (
            await session.exec(
                select(Measure.id, Measure.title)
                .where(Measure.package_id == node.id, where)
                .order_by(col(Measure.id))
            )
        ).all()
    else:
        child_level = LEVELS[level.child or ""]
        child_key, child_label = child_level.key, child_level.name
        below = [(c.id, c.name) for c in await children(session, child_level, node.id, person)]
    # One query: the children's sums, which together are the node's (each measure below the
    # node is below exactly one child).
    found = await rollup.grouped(session, by=child_key, today=today, where=where, filters=scope)
    rolled = found.rollups()
    own = found.rollups(lambda _: node.id)
    empty = Rollup(currency=currency)
    return NodeView(
        level=level.name,
        id=node.id,
        name=node.name,
        rollup=own.get(node.id, empty),
        path=[NodeRef(level=lv.name, id=n.id, name=n.name) for lv, n in path],
        children=[
            NodeRollup(level=child_label, id=cid, name=name, rollup=rolled.get(cid, empty))
            for cid, name in below
        ],
    )


async def view(
    session: AsyncSession, level: Level, node_id: int, person: Person, today: date
) -> NodeView:
    """The node `node_id` at `level` as `browse` shows it; NotFound if `person` cannot see it."""
    node = await find(session, level, node_id, person)
    if node is None:
        raise NotFound(f"{level.name} {node_id}")
    return await browse(session, level, node, person, today)


async def may_change(session: AsyncSession, person: Person, level: Level, node_id: int) -> bool:
    """Admins change every level; a portfolio's managers its programs, projects and packages."""
    if person.is_admin:
        return True
    if level.name in ("organization", "portfolio"):
        return False
    portfolio_id = await portfolio_of(session, level, node_id)
    return portfolio_id is not None and await access.manages_portfolio(
        session, person, portfolio_id
    )


async def may_create(
    session: AsyncSession, person: Person, level: Level, parent_id: int | None
) -> bool:
    """Who may add a node of `level` under `parent_id`: as `may_change` for the parent, and for
    a program, a manager of the portfolio it goes into."""
    if person.is_admin:
        return True
    if level.parent is None or parent_id is None or level.name == "portfolio":
        return False
    if level.parent == "portfolio":
        return await access.manages_portfolio(session, person, parent_id)
    return await may_change(session, person, LEVELS[level.parent], parent_id)


async def roots(session: AsyncSession, person: Person, today: date) -> list[NodeRollup]:
    """The organizations `person` may see, each rolled up over the measures they may see."""
    level = LEVELS["organization"]
    rolled = await rollup.rollups(
        session, by=level.key, today=today, where=access.visible_measures(person)
    )
    return [
        NodeRollup(
            level=level.name,
            id=org.id,
            name=org.name,
            rollup=rolled.get(org.id, Rollup(currency=org.group_currency)),
        )
        for org in await children(session, level, None, person)
    ]


async def add(
    session: AsyncSession, level: Level, data: dict[str, Any], person: Person, actor: Actor
) -> Any:
    """Add a node of `level` (its parent named in `data`), with its audit event."""
    parent_id = data.get(level.parent_field) if level.parent_field else None
    parent_level = LEVELS[level.parent] if level.parent else None
    if parent_level and parent_id and await find(session, parent_level, parent_id, person) is None:
        field = level.parent_field or ""
        raise InvalidInput([FieldProblem(field, f"no {level.parent} {parent_id}")])
    if not await may_create(session, person, level, parent_id):
        raise Forbidden(f"you may not add a {level.label.lower()} here")
    node: Any = level.model(**data)
    session.add(node)
    await session.flush()
    await audit.change(session, actor, level.name, node.id, "created", data)
    return node


async def rename(
    session: AsyncSession, level: Level, node_id: int, name: str, person: Person, actor: Actor
) -> Any:
    """Rename a node, with its audit event; NotFound for one the person may not see."""
    node = await find(session, level, node_id, person)
    if node is None:
        raise NotFound(f"{level.name} {node_id}")
    if not await may_change(session, person, level, node_id):
        raise Forbidden(f"you may not change this {level.label.lower()}")
    before = {"name": node.name}
    node.name = name
    session.add(node)
    await audit.change(session, actor, level.name, node_id, "renamed", {"name": name}, before)
    return node


PATH_SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark between levels


@dataclass(frozen=True)
class PackageChoice:
    id: int
    path: str  # portfolio, program, project and package names, to choose by
    organization_id: int


async def packages_managed_by(session: AsyncSession, person: Person) -> list[PackageChoice]:
    """The measure packages in which `person` may create measures (admins: all)."""
    query: Any = (
        rows_of(
            col(MeasurePackage.id),
            col(Portfolio.name),
            col(Program.name),
            col(Project.name),
            col(MeasurePackage.name),
            col(Portfolio.organization_id),
        )
        .join(Project, col(Project.id) == MeasurePackage.project_id)
        .join(Program, col(Program.id) == Project.program_id)
        .join(Portfolio, col(Portfolio.id) == Program.portfolio_id)
        .order_by(
            col(Portfolio.name), col(Program.name), col(Project.name), col(MeasurePackage.name)
        )
    )
    if not person.is_admin:
        managed = select(PortfolioManager.portfolio_id).where(
            PortfolioManager.person_id == person.id
        )
        query = query.where(col(Portfolio.id).in_(managed))
    return [
        PackageChoice(id=row[0], path=PATH_SEPARATOR.join(row[1:5]), organization_id=row[5])
        for row in (await session.exec(query)).all()
    ]
