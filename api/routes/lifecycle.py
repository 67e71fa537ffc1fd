"""REST API for a measure's lifecycle: submit, decide, confirm closure, hold, resume, cancel.

Each call is a Temporal update on the measure's workflow and returns the workflow's answer: 422
with the unmet criteria or the rule violated, 409 when the measure's state does not allow it.
The acting person is the one signed in (API token or session): nobody acts in another's name.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from api.auth import SIGNED_IN, CurrentPerson, visible_measure
from api.deps import SessionDep, SessionsDep, TemporalDep
from api.params import RowId
from models.closure import ClosureProblem, VerifiedFigures
from models.criteria import UnmetCriterion, unmet_criteria
from models.stages import next_stage
from services import idempotency, lifecycle, policies, snapshot
from services.db import transaction
from workflows.contracts import (
    Cancel,
    ConfirmClosure,
    Decide,
    GateView,
    LifecycleView,
    PutOnHold,
    Resume,
    SubmitGate,
)
from workflows.measure import MeasureWorkflow

router = APIRouter(
    responses=SIGNED_IN,
    prefix="/api/measures/{measure_id}",
    tags=["lifecycle"],
    dependencies=[Depends(visible_measure)],
)

IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="Send the same key to retry an action: it acts once."),
]


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Refusal(BaseModel):
    """The lifecycle's no: the rule it applied, and what is missing or wrong."""

    message: str
    unmet_criteria: list[UnmetCriterion] | None = None
    problems: list[ClosureProblem] | None = None


class Unprocessable(BaseModel):
    detail: list[FieldError] | Refusal


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such measure"},
    409: {"description": "The measure's state does not allow this action"},
    422: {
        "description": "The request is malformed (a list of field errors), or the lifecycle "
        "refused it: unmet criteria, invalid figures, or a rule (segregation of duties) violated",
        "model": Unprocessable,
    },
}


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    comment: str = Field(default="", max_length=2000, description="Required to reject.")


class ClosureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verified: VerifiedFigures


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    review_date: date


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class Checklist(BaseModel):
    next_gate: str | None
    policy_version: int
    unmet: list[UnmetCriterion]


async def run_update(
    temporal: TemporalDep,
    sessions: SessionsDep,
    measure_id: int,
    update: Any,
    message: BaseModel,
    key: str | None,
) -> Any:
    """The command through the lifecycle service; its refusals become answers in api.errors.

    An Idempotency-Key is the sender's own and bound to this request: the same request again
    acts once; the key with another request is a 422 (idempotency.KeyReused)."""
    update_id = None
    if key is not None:
        by: int = message.by  # type: ignore[attr-defined]
        for attempt in (1, 2):
            try:
                async with transaction(sessions) as session:
                    await idempotency.claim(
                        session,
                        person_id=by,
                        key=key,
                        operation=f"{update.__name__}:measure-{measure_id}",
                        body=message.model_dump(mode="json"),
                    )
                break
            except IntegrityError:
                if attempt == 2:  # a concurrent first use of the key: the retry finds it
                    raise
        update_id = idempotency.update_id(by, key)
    result_type = GateView if update is MeasureWorkflow.submit_gate else LifecycleView
    return await lifecycle.command(
        temporal,
        measure_id=measure_id,
        update=update,
        message=message,
        result_type=result_type,
        update_id=update_id,
    )


@router.post(
    "/gates",
    response_model=GateView,
    status_code=201,
    responses=ERRORS,
    summary="Submit the next gate",
)
async def submit_gate(
    measure_id: RowId,
    person: CurrentPerson,
    temporal: TemporalDep,
    sessions: SessionsDep,
    idempotency_key: IdempotencyKey = None,
) -> GateView:
    message = SubmitGate(by=person.id or 0)
    return await run_update(
        temporal, sessions, measure_id, MeasureWorkflow.submit_gate, message, idempotency_key
    )


@router.post(
    "/gates/current/decision",
    response_model=LifecycleView,
    responses=ERRORS,
    summary="Approve or reject the open gate",
)
async def decide_gate(
    measure_id: RowId,
    body: DecisionRequest,
    person: CurrentPerson,
    temporal: TemporalDep,
    sessions: SessionsDep,
    idempotency_key: IdempotencyKey = None,
) -> LifecycleView:
    message = Decide(by=person.id or 0, approve=body.approve, comment=body.comment)
    return await run_update(
        temporal, sessions, measure_id, MeasureWorkflow.decide_gate, message, idempotency_key
    )


@router.post(
    "/closure",
    response_model=LifecycleView,
    responses=ERRORS,
    summary="Controller confirms the verified figures",
)
async def confirm_closure(
    measure_id: RowId,
    body: ClosureRequest,
    person: CurrentPerson,
    temporal: TemporalDep,
    sessions: SessionsDep,
    idempotency_key: IdempotencyKey = None,
) -> LifecycleView:
    message = ConfirmClosure(by=person.id or 0, verified=body.verified)
    return await run_update(
        temporal, sessions, measure_id, MeasureWorkflow.confirm_closure, message, idempotency_key
    )


@router.post(
    "/hold", response_model=LifecycleView, responses=ERRORS, summary="Put the measure on hold"
)
async def put_on_hold(
    measure_id: RowId,
    body: HoldRequest,
    person: CurrentPerson,
    temporal: TemporalDep,
    sessions: SessionsDep,
    idempotency_key: IdempotencyKey = None,
) -> LifecycleView:
    message = PutOnHold(by=person.id or 0, reason=body.reason, review_date=body.review_date)
    return await run_update(
        temporal, sessions, measure_id, MeasureWorkflow.put_on_hold, message, idempotency_key
    )


@router.post(
    "/resume", response_model=LifecycleView, responses=ERRORS, summary="Resume a measure on hold"
)
async def resume(
    measure_id: RowId,
    person: CurrentPerson,
    temporal: TemporalDep,
    sessions: SessionsDep,
    idempotency_key: IdempotencyKey = None,
) -> LifecycleView:
    message = Resume(by=person.id or 0)
    return await run_update(
        temporal, sessions, measure_id, MeasureWorkflow.resume, message, idempotency_key
    )


@router.post(
    "/cancel", response_model=LifecycleView, responses=ERRORS, summary="Cancel the measure (final)"
)
async def cancel(
    measure_id: RowId,
    body: CancelRequest,
    person: CurrentPerson,
    temporal: TemporalDep,
    sessions: SessionsDep,
    idempotency_key: IdempotencyKey = None,
) -> LifecycleView:
    message = Cancel(by=person.id or 0, reason=body.reason)
    return await run_update(
        temporal, sessions, measure_id, MeasureWorkflow.cancel, message, idempotency_key
    )


@router.get(
    "/lifecycle",
    response_model=LifecycleView,
    responses=ERRORS,
    summary="Stage, open gate and hold, as the workflow sees them",
)
async def lifecycle_view(
    measure_id: RowId, person: CurrentPerson, temporal: TemporalDep
) -> LifecycleView:
    answer: LifecycleView = await lifecycle.view(temporal, measure_id=measure_id)
    return answer


@router.get(
    "/checklist",
    response_model=Checklist,
    responses=ERRORS,
    summary="What is missing for the next gate",
)
async def checklist(measure_id: RowId, person: CurrentPerson, session: SessionDep) -> Checklist:
    measure = await snapshot.load(session, measure_id=measure_id)
    policy = await policies.current(session, portfolio_id=measure.portfolio_id)
    target = next_stage(measure.stage)
    unmet = unmet_criteria(target, measure, policy) if target else []
    return Checklist(
        next_gate=target.value if target else None, policy_version=policy.version, unmet=unmet
    )
