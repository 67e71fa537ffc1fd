"""A measure's impact lines: added, corrected and removed (with their figures) until the
Decided gate freezes the plan, each with its audit event. The REST API and the measure page
both come here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor
from models.figures import ImpactLine, LineChange, LineIn, LineOut, MonthlyValue
from models.measure import Measure
from models.money import amount_problem
from models.people import Person
from models.stages import TERMINAL_STAGES
from services import access, audit, measures, snapshot, totals
from services.errors import FieldProblem, Forbidden, InvalidInput, NotFound


async def add(
    session: AsyncSession, *, measure_id: int, data: LineIn, person: Person, actor: Actor
) -> ImpactLine:
    """A new line on the measure."""
    measure = await _editable(session, person, measure_id, "no new lines")
    await _check_potential(session, measure, data.annual_potential)
    line = ImpactLine(measure_id=measure_id, **data.model_dump())
    session.add(line)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        entity_type="measure",
        entity_id=measure_id,
        action="impact_line.added",
        after=_shown(line),
    )
    return line


@dataclass(frozen=True)
class NewLine:
    """A line to add in a batch: its measure, what it is, the measure's currency, its key."""

    measure: Measure
    data: LineIn
    currency: str
    external_id: str | None = None


async def add_many(
    session: AsyncSession,
    items: list[NewLine],
    *,
    person: Person,
    actor: Actor,
) -> tuple[dict[int, ImpactLine], dict[int, Forbidden | InvalidInput]]:
    """Add many lines at once (an import), each checked as `add` checks one: who may edit the
    measure, a plan not yet frozen, a potential exact in the measure's currency (the third of
    item). Their audit events are appended together. Returns the lines made and the
    refusals by the item's index; nothing of a refused item is written."""
    editors: dict[int, bool] = {}  # package → whether `person` manages it
    made: dict[int, ImpactLine] = {}
    refused: dict[int, Forbidden | InvalidInput] = {}
    for index, item in enumerate(items):
        measure, data = item.measure, item.data
        if person.id != measure.owner_id and measure.package_id not in editors:
            editors[measure.package_id] = await access.edits_figures(session, person, measure)
        if person.id != measure.owner_id and not editors[measure.package_id]:
            refused[index] = Forbidden(
                "only the owner, the portfolio's managers and admins edit impact lines"
            )
        elif measure.plan_frozen_at is not None or measure.stage in TERMINAL_STAGES:
            refused[index] = InvalidInput(
                [FieldProblem("measure", "the plan is frozen since the Decided gate: no new lines")]
            )
        elif data.annual_potential is not None and (
            problem := amount_problem(data.annual_potential, item.currency)
        ):
            refused[index] = InvalidInput([FieldProblem("annual_potential", problem)])
        else:
            made[index] = ImpactLine(
                measure_id=measure.id or 0, external_id=item.external_id, **data.model_dump()
            )
    session.add_all(made.values())
    await session.flush()
    await audit.append(
        session,
        [
            audit.Entry(
                actor=actor,
                entity_type="measure",
                entity_id=line.measure_id,
                action="impact_line.added",
                after=_shown(line),
            )
            for line in made.values()
        ],
    )
    return made, refused


async def change(
    session: AsyncSession,
    *,
    measure_id: int,
    line_id: int,
    data: LineChange,
    person: Person,
    actor: Actor,
) -> ImpactLine:
    """Correct a line: the fields `data` sets (a category or description is never emptied)."""
    measure = await _editable(session, person, measure_id, "its lines stay as decided")
    line = await _line(session, measure_id, line_id)
    changes = data.model_dump(exclude_unset=True)
    for required in ("category", "description"):
        if changes.get(required) is None:
            changes.pop(required, None)
    await _check_potential(session, measure, changes.get("annual_potential"))
    before = _shown(line)
    for name, value in changes.items():
        setattr(line, name, value)
    session.add(line)
    if "category" in changes:  # its figures now count in another category
        await session.flush()
        await totals.refresh(session, [measure_id])
    await audit.record(
        session,
        actor=actor,
        entity_type="measure",
        entity_id=measure_id,
        action="impact_line.changed",
        before=before,
        after=_shown(line),
    )
    return line


async def remove(
    session: AsyncSession, *, measure_id: int, line_id: int, person: Person, actor: Actor
) -> None:
    """Remove a line with all its monthly values."""
    await _editable(session, person, measure_id, "its lines stay as decided")
    line = await _line(session, measure_id, line_id)
    before = _shown(line)
    await session.exec(delete(MonthlyValue).where(col(MonthlyValue.impact_line_id) == line_id))
    await session.delete(line)
    await session.flush()
    await totals.refresh(session, [measure_id])
    await audit.record(
        session,
        actor=actor,
        entity_type="measure",
        entity_id=measure_id,
        action="impact_line.removed",
        before=before,
    )


def _shown(line: ImpactLine) -> dict[str, object]:
    return LineOut.model_validate(line, from_attributes=True).model_dump(mode="json")


async def _editable(session: AsyncSession, person: Person, measure_id: int, what: str) -> Measure:
    if not await access.sees_measure(session, person, measure_id):
        raise NotFound(f"measure {measure_id}")
    measure = await measures.get(session, measure_id=measure_id)
    if not await access.edits_figures(session, person, measure):
        raise Forbidden("only the owner, the portfolio's managers and admins edit impact lines")
    if measure.plan_frozen_at is not None or measure.stage in TERMINAL_STAGES:
        raise InvalidInput(
            [FieldProblem("measure", f"the plan is frozen since the Decided gate: {what}")]
        )
    return measure


async def _line(session: AsyncSession, measure_id: int, line_id: int) -> ImpactLine:
    line = await session.get(ImpactLine, line_id)
    if line is None or line.measure_id != measure_id:
        raise NotFound(f"impact line {line_id} of measure {measure_id}")
    return line


async def _check_potential(session: AsyncSession, measure: Measure, potential: object) -> None:
    if potential is None:
        return
    found = await snapshot.load(session, measure_id=measure.id or 0, with_status=False)
    problem = amount_problem(potential, found.currency or "EUR")  # type: ignore[arg-type]
    if problem:
        raise InvalidInput([FieldProblem("annual_potential", problem)])
