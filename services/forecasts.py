"""Forecasts someone stands behind (models.forecasts): the owner confirms a measure's forecast
as it stands, or revises it (saving forecast figures counts as confirming them), and once a
month every owner of a measure between Decided and closure is asked to do one or the other."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import forecasts
from models.audit import Actor
from models.measure import Measure
from models.people import Person
from models.totals import MeasureSummary
from services import access, audit, totals
from services.errors import FieldProblem, Forbidden, InvalidInput

ASKED_IN = [stage.value for stage in forecasts.ASKED_IN]


async def confirm(
    session: AsyncSession, *, measure: Measure, person: Person, actor: Actor, today: date
) -> None:
    """`person` stands behind the measure's forecast as it is, on `today` (inside the caller's
    transaction, with its audit event). Forbidden unless they edit its figures; InvalidInput
    outside the stages in which forecasts are asked for."""
    if not await access.edits_figures(session, person, measure):
        raise Forbidden("only the owner, the portfolio's managers and admins confirm forecasts")
    if measure.stage not in forecasts.ASKED_IN:
        raise InvalidInput(
            [
                FieldProblem(
                    "stage",
                    "forecasts are confirmed from the Decided gate until closure; this measure "
                    f"is {measure.stage.label.lower()}",
                )
            ]
        )
    before = measure.forecast_confirmed_on
    await revised(session, [measure.id or 0], today=today)
    await totals.refresh_forecast_confirmed(session, measure.id or 0)
    await audit.record(
        session,
        actor=actor,
        entity_type="measure",
        entity_id=measure.id or 0,
        action="forecast.confirmed",
        before={"forecast_confirmed_on": before.isoformat() if before else None},
        after={"forecast_confirmed_on": today.isoformat()},
    )


async def revised(session: AsyncSession, measure_ids: Iterable[int], *, today: date) -> None:
    """The forecasts of `measure_ids` were revised (or confirmed) on `today`: those in a stage
    in which forecasts are asked for count as confirmed. Their summaries follow with the next
    `totals.refresh`, or `totals.refresh_forecast_confirmed`."""
    ids = sorted(set(measure_ids))
    if ids:
        await session.exec(
            update(Measure)
            .where(col(Measure.id).in_(ids), col(Measure.stage).in_(ASKED_IN))
            .values(forecast_confirmed_on=today)
        )


@dataclass(frozen=True)
class Asked:
    """A measure whose owner is asked for its forecast, and when it was last confirmed."""

    measure_id: int
    title: str
    confirmed_on: date

    @property
    def ref(self) -> str:
        return f"M-{self.measure_id}"


async def to_review(session: AsyncSession, *, day: date) -> list[tuple[Person, list[Asked]]]:
    """Each active owner with their measures in a stage in which forecasts are asked for and
    not confirmed yet in the month of `day`, least recently confirmed first."""
    found = (
        await session.exec(
            select(
                col(Measure.owner_id),
                MeasureSummary.measure_id,
                Measure.title,
                col(MeasureSummary.forecast_confirmed_on),
            )
            .join(Measure, col(Measure.id) == MeasureSummary.measure_id)
            .where(
                col(MeasureSummary.forecast_confirmed_on) < day.replace(day=1),
                col(Measure.owner_id).is_not(None),
            )
            .order_by(col(MeasureSummary.forecast_confirmed_on), col(MeasureSummary.measure_id))
        )
    ).all()
    by_owner: dict[int, list[Asked]] = defaultdict(list)
    for owner_id, measure_id, title, confirmed_on in found:
        assert owner_id is not None and confirmed_on is not None  # the query asks for both
        by_owner[owner_id].append(Asked(measure_id, title, confirmed_on))
    owners = (
        await session.exec(
            select(Person).where(col(Person.id).in_(list(by_owner)), col(Person.active))
        )
    ).all()
    return [(owner, by_owner[owner.id or 0]) for owner in sorted(owners, key=lambda p: p.id or 0)]


async def unconfirmed(session: AsyncSession, *, today: date) -> list[int]:
    """The measures whose forecast is unconfirmed on `today`."""
    return list(
        (
            await session.exec(
                select(MeasureSummary.measure_id)
                .where(col(MeasureSummary.forecast_confirmed_on) < forecasts.stale_before(today))
                .order_by(col(MeasureSummary.measure_id))
            )
        ).all()
    )
