"""REST API for an owner's figures: a line's monthly values per scenario, edited with
optimistic concurrency (ETag / If-Match)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import SIGNED_IN, CurrentPerson, visible_measure
from api.deps import SessionsDep, TemporalDep
from api.params import RowId
from models.audit import Actor, Channel
from models.figures import ImpactLine, LineChange, LineIn, LineOut
from models.measure import Measure
from models.money import Amount, Scenario
from models.people import Person
from services import access, figures, impact_lines, lifecycle, measures, snapshot
from services.db import transaction
from services.errors import FieldProblem, InvalidInput

router = APIRouter(
    responses=SIGNED_IN,
    prefix="/api/measures/{measure_id}/lines/{line_id}/values/{scenario}",
    tags=["figures"],
    dependencies=[Depends(visible_measure)],
)
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only the measure's owner, its portfolio's managers and admins edit"},
    404: {"description": "No such measure or impact line"},
    412: {"description": "The figures changed since they were read (If-Match is stale)"},
    422: {"description": "A period or amount is wrong, or the series is frozen or final"},
    428: {"description": "If-Match is missing: read the figures first"},
}


lines = APIRouter(
    responses=SIGNED_IN,
    prefix="/api/measures/{measure_id}/lines",
    tags=["figures"],
    dependencies=[Depends(visible_measure)],
)


@lines.get("", response_model=list[LineOut], responses=ERRORS, summary="The measure's impact lines")
async def list_lines(
    measure_id: RowId, person: CurrentPerson, sessions: SessionsDep
) -> list[LineOut]:
    async with sessions() as session:
        found = (
            await session.exec(
                select(ImpactLine)
                .where(ImpactLine.measure_id == measure_id)
                .order_by(col(ImpactLine.id))
            )
        ).all()
    return [LineOut.model_validate(line, from_attributes=True) for line in found]


@lines.post(
    "", response_model=LineOut, status_code=201, responses=ERRORS, summary="Add an impact line"
)
async def add_line(
    measure_id: RowId, body: LineIn, person: CurrentPerson, sessions: SessionsDep
) -> LineOut:
    async with transaction(sessions) as session:
        line = await impact_lines.add(
            session, measure_id=measure_id, data=body, person=person, actor=_api(person)
        )
    return LineOut.model_validate(line, from_attributes=True)


@lines.patch(
    "/{line_id}",
    response_model=LineOut,
    responses=ERRORS,
    summary="Correct an impact line (until the Decided gate freezes the plan)",
)
async def change_line(
    measure_id: RowId,
    line_id: RowId,
    body: LineChange,
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
) -> LineOut:
    async with transaction(sessions) as session:
        line = await impact_lines.change(
            session,
            measure_id=measure_id,
            line_id=line_id,
            data=body,
            person=person,
            actor=_api(person),
        )
    await lifecycle.figures_changed(temporal, measure_id)
    return LineOut.model_validate(line, from_attributes=True)


@lines.delete(
    "/{line_id}",
    status_code=204,
    responses=ERRORS,
    summary="Remove an impact line with its figures (until the Decided gate freezes the plan)",
)
async def remove_line(
    measure_id: RowId,
    line_id: RowId,
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
) -> Response:
    async with transaction(sessions) as session:
        await impact_lines.remove(
            session, measure_id=measure_id, line_id=line_id, person=person, actor=_api(person)
        )
    await lifecycle.figures_changed(temporal, measure_id)
    return Response(status_code=204)


def _api(person: Person) -> Actor:
    return Actor.person(person.id, Channel.API)


class MonthlyAmount(BaseModel):
    period: date = Field(description="The first day of the month.")
    amount: Amount


class SeriesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[MonthlyAmount]
    currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="The amounts' currency: the legal entity's (ISO 4217). A write may send it "
        "to be sure; another currency is refused.",
    )


@router.get("", response_model=SeriesBody, responses=ERRORS, summary="A line's monthly values")
async def read_values(
    measure_id: RowId,
    line_id: RowId,
    scenario: Scenario,
    person: CurrentPerson,
    sessions: SessionsDep,
    response: Response,
) -> SeriesBody:
    async with sessions() as session:
        await _line(session, measure_id, line_id)
        found = await figures.series(session, line_id=line_id, scenario=scenario)
        currency = await _currency(session, measure_id)
    response.headers["ETag"] = found.etag
    return _body(found, currency)


@router.put(
    "",
    response_model=SeriesBody,
    responses=ERRORS,
    summary="Replace a line's monthly values (send the ETag you read as If-Match)",
)
async def replace_values(
    measure_id: RowId,
    line_id: RowId,
    scenario: Scenario,
    body: SeriesBody,
    person: CurrentPerson,
    sessions: SessionsDep,
    temporal: TemporalDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> SeriesBody:
    if if_match is None:
        raise HTTPException(428, "send the ETag of the figures you read as If-Match")
    values = {v.period: v.amount for v in body.values}
    if len(values) != len(body.values):
        raise InvalidInput([FieldProblem("values", "a month is given twice")])
    async with transaction(sessions) as session:
        measure = await measures.get(session, measure_id=measure_id)
        line = await _line(session, measure_id, line_id)
        await may_edit(session, person, measure)
        currency = await _currency(session, measure_id)
        if body.currency is not None and body.currency.upper() != currency:
            raise InvalidInput(
                [
                    FieldProblem(
                        "currency",
                        f"this measure's figures are in {currency or 'no currency yet'} "
                        f"(its legal entity's), not {body.currency.upper()}",
                    )
                ]
            )
        try:
            saved = await figures.replace(
                session,
                measure=measure,
                line=line,
                scenario=scenario,
                values=values,
                expected_etag=if_match,
                actor=Actor.person(person.id, Channel.API),
            )
        except figures.Refused as error:
            raise InvalidInput([FieldProblem(scenario.value, str(error))]) from error
        except figures.Stale as error:
            raise HTTPException(412, str(error)) from error
    await lifecycle.figures_changed(temporal, measure_id)
    response.headers["ETag"] = saved.etag
    return _body(saved, currency)


async def _line(session: AsyncSession, measure_id: int, line_id: int) -> ImpactLine:
    line = await session.get(ImpactLine, line_id)
    if line is None or line.measure_id != measure_id:
        raise HTTPException(404, f"measure {measure_id} has no impact line {line_id}")
    return line


async def may_edit(session: AsyncSession, person: Person, measure: Measure) -> None:
    if not await access.edits_figures(session, person, measure):
        raise HTTPException(403, "only the owner, the portfolio's managers and admins edit figures")


async def _currency(session: AsyncSession, measure_id: int) -> str | None:
    """The currency of the measure's legal entity (None while it has none)."""
    return (await snapshot.load(session, measure_id=measure_id, with_status=False)).currency


def _body(found: figures.Series, currency: str | None) -> SeriesBody:
    return SeriesBody(
        values=[MonthlyAmount(period=p, amount=a) for p, a in sorted(found.values.items())],
        currency=currency,
    )
