"""REST API for measures: create (which starts the lifecycle workflow), list, read."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlalchemy.exc import IntegrityError, NoResultFound
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import SIGNED_IN, CurrentPerson
from api.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.params import RowId
from models.audit import Actor, Channel
from models.measure import MeasureCreate, MeasurePublic, MeasureUpdate
from models.measure_query import MeasureQuery
from services import access, forecasts, lifecycle, measures
from services.db import transaction

router = APIRouter(responses=SIGNED_IN, prefix="/api/measures", tags=["measures"])


@router.post(
    "",
    response_model=MeasurePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create a measure and start its lifecycle workflow",
    responses={
        200: {"description": "You created this measure before with this Idempotency-Key"},
        422: {"description": "Invalid input, or the Idempotency-Key was used for another request"},
    },
)
async def create_measure(
    data: MeasureCreate,
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="Send the same key when retrying a create."),
    ] = None,
) -> MeasurePublic:
    async with sessions() as session:
        portfolio_id = await _portfolio_or_none(session, data.package_id)
        if portfolio_id is not None and not await access.manages_portfolio(
            session, person, portfolio_id
        ):
            raise HTTPException(403, "only the portfolio's managers and admins create measures")
    for attempt in (1, 2):
        try:
            async with transaction(sessions) as session:
                measure, created = await measures.create(
                    session,
                    data=data,
                    actor=Actor.person(person.id, Channel.API),
                    idempotency_key=idempotency_key,
                )
                facts = await measures.facts(session, measure=measure, today=date.today())
            break
        except IntegrityError:
            # A concurrent retry with the same key won the race: the next attempt finds its
            # measure. Nothing of this attempt was written.
            if attempt == 2 or not idempotency_key:
                raise
    try:
        await lifecycle.start(temporal, facts=facts, task_queue=settings.temporal_task_queue)
    except Exception as error:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=(
                f"measure M-{facts.measure_id} was saved but its workflow could not be started "
                f"({type(error).__name__}); retry with the same Idempotency-Key to finish"
            ),
        ) from error
    if not created:
        response.status_code = status.HTTP_200_OK
    return measures.public(measure, facts)


async def _portfolio_or_none(session: AsyncSession, package_id: int) -> int | None:
    try:
        return await measures.portfolio_of(session, package_id=package_id)
    except NoResultFound:
        return None  # an unknown package: the create answers 422 naming it


@router.get(
    "",
    response_model=list[MeasurePublic],
    summary="Find measures: search, filter, sort, page",
    responses={
        200: {
            "description": "One page of the measures you may see that match",
            "headers": {
                "X-Total-Count": {
                    "description": "How many match in all (every page together)",
                    "schema": {"type": "integer"},
                }
            },
        },
        422: {"description": "An unknown parameter, or a value it does not take, named"},
    },
)
async def list_measures(
    person: CurrentPerson,
    session: SessionDep,
    query: Annotated[MeasureQuery, Query()],
    response: Response,
) -> list[MeasurePublic]:
    visible = access.visible_measures(person)
    found, total, _ = await measures.find(
        session, query=query, where=visible, person_id=person.id or 0, today=date.today()
    )
    response.headers["X-Total-Count"] = str(total)
    return [
        measures.public_with(*row)
        for row in await measures.with_status(session, found, today=date.today())
    ]


@router.patch(
    "/{measure_id}",
    response_model=MeasurePublic,
    summary="Change a measure's master data",
    responses={
        403: {"description": "Not yours to change (people: the portfolio's managers and admins)"},
        404: {"description": "No such measure, or not one you may see"},
        422: {"description": "A field named is wrong, frozen since Decided, or final"},
    },
)
async def change_measure(
    measure_id: RowId,
    data: MeasureUpdate,
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
) -> MeasurePublic:
    async with transaction(sessions) as session:
        measure = await measures.edit(
            session, measure_id=measure_id, data=data, person=person, channel=Channel.API
        )
        facts = await measures.facts(session, measure=measure, today=date.today())
    await lifecycle.figures_changed(temporal, measure_id)
    return measures.public(measure, facts)


@router.get(
    "/{measure_id}",
    response_model=MeasurePublic,
    summary="One measure",
    responses={404: {"description": "No such measure, or not one you may see"}},
)
async def read_measure(
    measure_id: RowId, person: CurrentPerson, session: SessionDep
) -> MeasurePublic:
    if not await access.sees_measure(session, person, measure_id):
        raise HTTPException(404, f"measure {measure_id} not found")
    measure = await measures.get(session, measure_id=measure_id)
    return measures.public(
        measure, await measures.facts(session, measure=measure, today=date.today())
    )


@router.post(
    "/{measure_id}/forecast-confirmation",
    response_model=MeasurePublic,
    summary="Confirm the measure's forecast as it stands (asked for monthly from Decided)",
    responses={
        403: {"description": "Only the owner, the portfolio's managers and admins confirm"},
        404: {"description": "No such measure, or not one you may see"},
        422: {"description": "The measure is not between the Decided gate and closure"},
    },
)
async def confirm_forecast(
    measure_id: RowId, person: CurrentPerson, sessions: SessionsDep, temporal: TemporalDep
) -> MeasurePublic:
    async with transaction(sessions) as session:
        if not await access.sees_measure(session, person, measure_id):
            raise HTTPException(404, f"measure {measure_id} not found")
        measure = await measures.get(session, measure_id=measure_id)
        await forecasts.confirm(
            session,
            measure=measure,
            person=person,
            actor=Actor.person(person.id, Channel.API),
            today=date.today(),
        )
        await session.refresh(measure)
        facts = await measures.facts(session, measure=measure, today=date.today())
    await lifecycle.figures_changed(temporal, measure_id)
    return measures.public(measure, facts)
