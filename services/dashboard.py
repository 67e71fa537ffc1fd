"""The portfolio dashboard: totals, the pipeline by stage, the dual-status matrix and the EBITDA
effect month by month, over the measures a person may see, in the group currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.organization import Organization
from models.people import Person
from models.rollups import Dashboard, MatrixCell, PeriodValues, Rollup, StageCount
from models.stages import GATE_ORDER, Stage
from models.status import Light
from services import access, hierarchy, rollup
from services.rollup import SKIP, Filters

PIPELINE = (*GATE_ORDER, Stage.ON_HOLD, Stage.CANCELLED)
DELIVERY_ROWS = (Light.GREEN, Light.AMBER, Light.RED)
VALUE_COLUMNS = (Light.GREEN, Light.AMBER, Light.RED, Light.NONE)


async def default_organization(session: AsyncSession, person: Person) -> Organization | None:
    """The first organization the person may see (where a dashboard opens without a choice)."""
    level = hierarchy.LEVELS["organization"]
    query = select(Organization).where(hierarchy.visible(level, person))
    return (await session.exec(query.order_by(col(Organization.id)))).first()


async def load(
    session: AsyncSession, *, person: Person, filters: Filters, currency: str, today: date
) -> Dashboard:
    where = access.visible_measures(person)
    # One query grouped by stage and both lights; pipeline, matrix and total are regroupings.
    found = await rollup.grouped(
        session,
        by=("stage", "delivery", "value"),
        today=today,
        where=where,
        filters=filters,
        cancelled=True,
    )
    stages = found.rollups(lambda key: key[0])
    cells = found.rollups(lambda key: SKIP if key[0] == Stage.CANCELLED else (key[1], key[2]))
    total = found.rollups(lambda key: SKIP if key[0] == Stage.CANCELLED else None).get(
        None, Rollup(currency=currency)
    )
    whole = access.packages_seen_whole(person)
    by_month = await rollup.months(
        session,
        today=today,
        where=where,
        filters=filters,
        packages=rollup.EVERY_PACKAGE if whole is None else whole,
    )
    empty = Rollup(currency=currency)
    missing = set(total.missing_rates)
    for converted in by_month.values():
        for amounts in converted.values():
            missing.update(amounts.missing_rates)
    return Dashboard(
        currency=currency,
        total=total,
        pipeline=[
            StageCount(
                stage=stage,
                measures=stages.get(stage.value, empty).measures,
                plan=stages.get(stage.value, empty).plan,
            )
            for stage in PIPELINE
        ],
        matrix=[
            MatrixCell(
                delivery=delivery,
                value=value,
                measures=cells.get((delivery.value, value.value), empty).measures,
                plan=cells.get((delivery.value, value.value), empty).plan,
            )
            for delivery in DELIVERY_ROWS
            for value in VALUE_COLUMNS
        ],
        months=[
            PeriodValues(
                period=period,
                plan=amounts["plan"].amount,
                achieved=amounts["achieved"].amount,
                verified=amounts["verified"].amount,
            )
            for period, amounts in sorted(by_month.items())
        ],
        missing_rates=sorted(missing),
    )


def cumulative(months: list[PeriodValues]) -> list[PeriodValues]:
    """The same months, each value added up from the first month on."""
    plan = achieved = verified = Decimal(0)
    running = []
    for month in months:
        plan, achieved, verified = (
            plan + month.plan,
            achieved + month.achieved,
            verified + month.verified,
        )
        running.append(PeriodValues(period=month.period, plan=plan, achieved=achieved,
                                    verified=verified))  # fmt: skip
    return running
