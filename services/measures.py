"""Creating, listing and describing measures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import and_, or_
from sqlalchemy import select as rows_of  # rows, not scalars: the page's ids with their values
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import forecasts
from models.audit import Actor, Channel
from models.columns import MAX_ID, utcnow
from models.measure import (
    FROZEN_AT_DECIDED,
    REQUIRED,
    Measure,
    MeasureCreate,
    MeasurePublic,
    MeasureUpdate,
    workflow_id_for,
)
from models.measure_query import MeasureQuery
from models.organization import (
    BusinessUnit,
    LegalEntity,
    MeasurePackage,
    Portfolio,
    Program,
    Project,
)
from models.people import Person
from models.stages import TERMINAL_STAGES
from models.status import Judged, Light, judge_delivery, judge_value
from models.totals import MeasureSummary
from services import access, audit, idempotency, my_work, rollup, totals
from services.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from workflows.contracts import MeasureFacts

ROLE_FIELDS = ("owner_id", "sponsor_id", "controller_id")


async def create(
    session: AsyncSession,
    *,
    data: MeasureCreate,
    actor: Actor,
    idempotency_key: str | None = None,
) -> tuple[Measure, bool]:
    """Create a measure with its audit event; with the idempotency key the actor used for this
    same request before, return the measure created then instead (the flag says whether this
    call created it). KeyReused when the actor used the key for another request."""
    record = None
    if idempotency_key and actor.person_id is not None:
        record, first = await idempotency.claim(
            session,
            person_id=actor.person_id,
            key=idempotency_key,
            operation="create_measure",
            body=data.model_dump(mode="json"),
        )
        if not first and record.measure_id is not None:
            existing = await session.get(Measure, record.measure_id)
            assert existing is not None
            return existing, False
    await _check_references(session, data)
    measure = Measure.model_validate(data)
    session.add(measure)
    await session.flush()
    await totals.refresh(session, [measure.id or 0])
    if record is not None:
        record.measure_id = measure.id
        session.add(record)
    await audit.record(
        session,
        actor=actor,
        entity_type="measure",
        entity_id=measure.id or 0,
        action="measure.created",
        after=data.model_dump(),
    )
    return measure, True


async def create_many(
    session: AsyncSession,
    items: list[MeasureCreate],
    actor: Actor,
    external_ids: Sequence[str | None] | None = None,
) -> tuple[dict[int, Measure], dict[int, InvalidInput]]:
    """Create many measures at once (an import, with the ids of the organization's files),
    each checked as `create` checks one, with their audit events appended together. Returns the
    measures made and the refusals, both by the item's index; nothing of a refused item is
    written."""
    known = await _references(session, items)
    made: dict[int, Measure] = {}
    refused: dict[int, InvalidInput] = {}
    for index, data in enumerate(items):
        if problems := _reference_problems(data, known):
            refused[index] = InvalidInput(problems)
        else:
            made[index] = Measure.model_validate(data)
            made[index].external_id = external_ids[index] if external_ids else None
    session.add_all(made.values())
    await session.flush()
    await totals.refresh(session, [measure.id or 0 for measure in made.values()])
    await audit.append(
        session,
        [
            audit.Entry(
                actor=actor,
                entity_type="measure",
                entity_id=measure.id or 0,
                action="measure.created",
                after=items[index].model_dump() | {"external_id": measure.external_id},
            )
            for index, measure in made.items()
        ],
    )
    return made, refused


async def _check_references(session: AsyncSession, data: MeasureCreate) -> None:
    if problems := _reference_problems(data, await _references(session, [data])):
        raise InvalidInput(problems)


REFERENCES: tuple[tuple[str, type[SQLModel]], ...] = (
    ("package_id", MeasurePackage),
    ("business_unit_id", BusinessUnit),
    ("legal_entity_id", LegalEntity),
    *((field, Person) for field in ROLE_FIELDS),
)


async def _references(session: AsyncSession, items: Sequence[MeasureCreate]) -> dict[Any, Any]:
    """The rows `items` refer to, by (table, id), and each package's organization by
    ("organization", package id): read in a query per table."""
    known: dict[Any, Any] = {}
    for table in {table for _, table in REFERENCES}:
        ids = {getattr(d, f) for d in items for f, t in REFERENCES if t is table} - {None}
        rows = (await session.exec(select(table).where(col(table.id).in_(ids)))).all()  # type: ignore[attr-defined]
        known |= {(table, row.id): row for row in rows}  # type: ignore[attr-defined]
    packages = {d.package_id for d in items}
    owners = await session.exec(
        select(MeasurePackage.id, Portfolio.organization_id)
        .join(Project, col(Project.id) == MeasurePackage.project_id)
        .join(Program, col(Program.id) == Project.program_id)
        .join(Portfolio, col(Portfolio.id) == Program.portfolio_id)
        .where(col(MeasurePackage.id).in_(packages))
    )
    known |= {("organization", package): org for package, org in owners.all()}
    return known


def _reference_problems(data: MeasureCreate, known: dict[Any, Any]) -> list[FieldProblem]:
    """What is wrong with what `data` refers to: rows that do not exist, a business unit or
    legal entity of another organization than the package's, and the same person in two roles
    (segregation of duties)."""
    problems: list[FieldProblem] = []
    for field, table in REFERENCES:
        ref = getattr(data, field)
        if ref is not None and (table, ref) not in known:
            problems.append(FieldProblem(field, f"no {table.__name__} with id {ref}"))
    organization = known.get(("organization", data.package_id))
    for field, label, table in (
        ("business_unit_id", "business unit", BusinessUnit),
        ("legal_entity_id", "legal entity", LegalEntity),
    ):
        row = known.get((table, getattr(data, field)))
        if organization is not None and row is not None and row.organization_id != organization:
            problems.append(
                FieldProblem(
                    field, f"this {label} belongs to another organization than the package"
                )
            )
    people = [(field, getattr(data, field)) for field in ROLE_FIELDS if getattr(data, field)]
    for i, (field, person) in enumerate(people):
        for other_field, other in people[:i]:
            if person == other:
                problems.append(
                    FieldProblem(
                        field,
                        f"must be a different person from {other_field.removesuffix('_id')} "
                        "(segregation of duties)",
                    )
                )
    return problems


async def edit(
    session: AsyncSession, *, measure_id: int, data: MeasureUpdate, person: Person, channel: Channel
) -> Measure:
    """`person` changes the measure through `channel` (the API, a page): those who see it and
    edit its figures change its content; its people only the portfolio's managers and admins."""
    if not await access.sees_measure(session, person, measure_id):
        raise NotFound(f"measure {measure_id}")
    measure = await get(session, measure_id=measure_id)
    if not await access.edits_figures(session, person, measure):
        raise Forbidden("only the owner, the portfolio's managers and admins change a measure")
    people = {"owner_id", "sponsor_id", "controller_id"} & data.model_fields_set
    portfolio = await portfolio_of(session, package_id=measure.package_id)
    if people and not await access.manages_portfolio(session, person, portfolio):
        raise Forbidden("only the portfolio's managers and admins name a measure's people")
    return await update(
        session, measure_id=measure_id, data=data, actor=Actor.person(person.id, channel)
    )


async def update(
    session: AsyncSession, *, measure_id: int, data: MeasureUpdate, actor: Actor
) -> Measure:
    """Change the fields `data` sets, with one audit event (before and after), by the same rules
    as creating: people distinct, references of the package's organization; nothing of a closed
    or cancelled measure, and not what the Decided gate froze. InvalidInput names each field."""
    measure = await session.get(Measure, measure_id, with_for_update=True)
    if measure is None:
        raise NotFound(f"measure {measure_id}")
    sent = data.model_dump(exclude_unset=True)
    if "description" in sent and sent["description"] is None:
        sent["description"] = ""  # a description is cleared, never absent
    changes = {name: value for name, value in sent.items() if getattr(measure, name) != value}
    problems = _edit_problems(measure, changes)
    if problems:
        raise InvalidInput(problems)
    after = MeasureCreate.model_validate(measure.model_dump() | changes)
    await _check_references(session, after)
    before = {name: getattr(measure, name) for name in changes}
    for name, value in changes.items():
        setattr(measure, name, value)
    if changes:
        measure.updated_at = utcnow()
        session.add(measure)
        if changes.keys() & PLACED_BY:  # its figures move to the totals of its new place
            await session.flush()
            await totals.refresh(session, [measure_id])
        await audit.record(
            session,
            actor=actor,
            entity_type="measure",
            entity_id=measure_id,
            action="measure.updated",
            before=before,
            after=changes,
        )
    return measure


PLACED_BY = {"package_id", "business_unit_id", "legal_entity_id"}


def _edit_problems(measure: Measure, changes: dict[str, Any]) -> list[FieldProblem]:
    if measure.stage in TERMINAL_STAGES:
        return [
            FieldProblem("measure", f"the measure is {measure.stage.label.lower()}: it is final")
        ]
    problems = [
        FieldProblem(name, "may not be empty")
        for name in REQUIRED
        if name in changes and changes[name] is None
    ]
    if measure.plan_frozen_at is not None:
        problems += [
            FieldProblem(name, "frozen since the Decided gate: it stays as the plan was approved")
            for name in FROZEN_AT_DECIDED
            if name in changes
        ]
    return problems


async def organization_of(session: AsyncSession, *, package_id: int) -> int:
    """The organization a measure package belongs to."""
    return (
        await session.exec(
            select(Portfolio.organization_id)
            .join(Program, col(Program.portfolio_id) == Portfolio.id)
            .join(Project, col(Project.program_id) == Program.id)
            .join(MeasurePackage, col(MeasurePackage.project_id) == Project.id)
            .where(MeasurePackage.id == package_id)
        )
    ).one()


async def get(session: AsyncSession, *, measure_id: int) -> Measure:
    """The measure with `measure_id`; NotFound otherwise."""
    measure = await session.get(Measure, measure_id)
    if measure is None:
        raise NotFound(f"measure {measure_id}")
    return measure


async def list_all(
    session: AsyncSession, *, limit: int = 200, offset: int = 0, where: Any = None
) -> Sequence[Measure]:
    """Measures (those matching `where`, e.g. what a person may see), newest first."""
    query = select(Measure).order_by(col(Measure.id).desc()).offset(offset).limit(limit)
    if where is not None:
        query = query.where(where)
    return (await session.exec(query)).all()


class Found(NamedTuple):
    """A page of measures, how many match in all, and, when the page was sorted by planned
    value, each measure's planned value (read with the order; else None)."""

    measures: list[Measure]
    total: int
    planned: dict[int, rollup.Planned] | None = None


async def find(
    session: AsyncSession, *, query: MeasureQuery, where: Any, person_id: int, today: date
) -> Found:
    """The page of measures `query` asks for among those matching `where` (what person
    `person_id` may see), and how many match in all. The statuses are those of `today`."""
    levels = _in_levels(query)
    conditions = [where, *_conditions(query)]
    if query.delivery or query.value or query.overdue:
        statuses = rollup.measures(today, and_(*conditions, *levels))
        chosen = select(statuses.c.id)
        if query.delivery:
            chosen = chosen.where(statuses.c.delivery.in_([d.value for d in query.delivery]))
        if query.value:
            chosen = chosen.where(statuses.c.value.in_([v.value for v in query.value]))
        if query.overdue:
            chosen = chosen.where(statuses.c.delivery.in_([Light.AMBER.value, Light.RED.value]))
        conditions.append(col(Measure.id).in_(chosen))
    if query.waiting_for_me:
        work = await my_work.load(session, person_id=person_id, today=today)
        conditions.append(col(Measure.id).in_([d.measure.id for d in work.decisions]))
    counted = select(func.count()).select_from(Measure).where(*conditions, *levels)
    total = (await session.exec(counted)).one()
    name, descending = query.sort.removeprefix("-"), query.sort.startswith("-")
    # The page's ids first, ordered over narrow rows; then those measures whole.
    planned = None
    if name == "planned_value":
        # The hierarchy is joined for the rates: the level filters go on the joined levels, and
        # the planned values come with the order.
        joined, value = rollup.with_planned_value(rows_of(col(Measure.id)))
        page = joined.add_columns(value.plan, value.rate, value.group_currency)
        page = page.where(*conditions, *_on_levels(query))
        column: Any = value.sort_key
        order = (column.desc() if descending else column.asc()).nulls_last()
    else:
        page = select(Measure.id).where(*conditions, *levels)
        column = col(getattr(Measure, name))
        order = column.desc() if descending else column.asc()
    page = page.order_by(order, col(Measure.id).desc()).offset(query.offset).limit(query.limit)
    rows = (await session.exec(page)).all()
    if name == "planned_value":
        planned = rollup.planned_from(rows)
        ids = [row[0] for row in rows]
    else:
        ids = list(rows)
    found = {m.id: m for m in (await session.exec(select(Measure).where(col(Measure.id).in_(ids))))}
    return Found([found[i] for i in ids], total, planned)


def _conditions(query: MeasureQuery) -> list[Any]:
    found: list[Any] = []
    if query.q:
        code = query.q.upper().removeprefix("M-")
        words = col(Measure.title).ilike(f"%{query.q}%")
        is_code = code.isdigit() and int(code) <= MAX_ID
        found.append(or_(words, col(Measure.id) == int(code)) if is_code else words)
    if query.stage:
        found.append(col(Measure.stage).in_(query.stage))
    for name in ("package_id", "business_unit_id", "legal_entity_id", *ROLE_FIELDS):
        if (value := getattr(query, name)) is not None:
            found.append(getattr(Measure, name) == value)
    return found


def _on_levels(query: MeasureQuery) -> list[Any]:
    """The query's filters by a level above the package, as clauses on that level's table."""
    node = (
        ("organization_id", col(Portfolio.organization_id)),
        ("portfolio_id", col(Program.portfolio_id)),
        ("program_id", col(Program.id)),
        ("project_id", col(Project.id)),
    )
    return [column == value for name, column in node if (value := getattr(query, name)) is not None]


def _in_levels(query: MeasureQuery) -> list[Any]:
    """`_on_levels` as clauses on Measure: its package is below the level chosen."""
    packages = (
        select(MeasurePackage.id)
        .join(Project, col(Project.id) == MeasurePackage.project_id)
        .join(Program, col(Program.id) == Project.program_id)
        .join(Portfolio, col(Portfolio.id) == Program.portfolio_id)
    )
    return [col(Measure.package_id).in_(packages.where(c)) for c in _on_levels(query)]


async def portfolio_of(session: AsyncSession, *, package_id: int) -> int:
    """The portfolio a measure package belongs to."""
    query = (
        select(Program.portfolio_id)
        .join(Project, col(Project.program_id) == Program.id)
        .join(MeasurePackage, col(MeasurePackage.project_id) == Project.id)
        .where(MeasurePackage.id == package_id)
    )
    return (await session.exec(query)).one()


async def dual_status(
    session: AsyncSession, *, measure_id: int, today: date
) -> tuple[Light, Light]:
    """(implementation status, potential status) of one measure on `today`, as every page, the
    API, the roll-ups and the Temporal search attributes show it."""
    lights = await rollup.measure_lights(session, ids=[measure_id], today=today)
    return lights.get(measure_id, (Light.GREEN, Light.NONE))


async def judged_status(
    session: AsyncSession, *, measure_id: int, today: date
) -> tuple[Judged, Judged]:
    """(delivery, value) of one measure on `today`, each with the rule and the numbers that
    decided it; the same lights as `dual_status`, from the same summary."""
    found = (
        await session.exec(
            select(
                col(MeasureSummary.first_open),
                MeasureSummary.plan,
                MeasureSummary.achieved,
                col(MeasureSummary.forecast_confirmed_on),
            ).where(MeasureSummary.measure_id == measure_id)
        )
    ).first()
    first_open, plan, reached, confirmed = found if found else (None, 0, 0, None)
    stale = confirmed if forecasts.unconfirmed(confirmed, today=today) else None
    return (
        judge_delivery(first_open, today=today),
        judge_value(Decimal(plan), Decimal(reached), unconfirmed_since=stale),
    )


async def facts(session: AsyncSession, *, measure: Measure, today: date) -> MeasureFacts:
    """The facts the lifecycle workflow and its search attributes are built from."""
    assert measure.id is not None
    impl, potential = await dual_status(session, measure_id=measure.id, today=today)
    return MeasureFacts(
        measure_id=measure.id,
        title=measure.title,
        stage=measure.stage,
        portfolio_id=await portfolio_of(session, package_id=measure.package_id),
        legal_entity_id=measure.legal_entity_id,
        business_unit_id=measure.business_unit_id,
        implementation_status=impl,
        potential_status=potential,
    )


def public(measure: Measure, measure_facts: MeasureFacts) -> MeasurePublic:
    """The API view of a measure."""
    return public_with(measure, measure_facts.implementation_status, measure_facts.potential_status)


async def with_status(
    session: AsyncSession, found: Sequence[Measure], *, today: date
) -> list[tuple[Measure, Light, Light]]:
    """Each measure with its (implementation, potential) status, read in one query."""
    lights = await rollup.measure_lights(session, ids=[m.id or 0 for m in found], today=today)
    return [(m, *lights.get(m.id or 0, (Light.GREEN, Light.NONE))) for m in found]


def public_with(measure: Measure, implementation: Light, potential: Light) -> MeasurePublic:
    """The API view of a measure whose statuses were read already."""
    assert measure.id is not None
    return MeasurePublic.model_validate(
        measure,
        update={
            "workflow_id": workflow_id_for(measure.id),
            "implementation_status": implementation,
            "potential_status": potential,
        },
    )
