"""Writing lifecycle facts: each in the same transaction as its audit event, each at most once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, Channel
from models.figures import MonthlyValue
from models.gates import Gate, GateDecisionRecord, GateStatus, LifecycleEvent
from models.measure import Measure
from models.money import Scenario
from models.stages import Stage
from services import audit, links, totals
from services.db import transaction
from workflows.contracts import (
    ApproverReplaced,
    AuditAnchor,
    ClosureConfirmed,
    EscalationFired,
    FactBatch,
    FactRecord,
    FactsRecorded,
    GateClosed,
    GateDecided,
    GateSubmitted,
    StageChanged,
)


async def record(sessions: async_sessionmaker[AsyncSession], batch: FactBatch) -> FactsRecorded:
    """Write the batch's facts that are not yet written: how many were new, and the audit
    trail's head after them (the anchor the workflow's history keeps)."""
    for _ in range(3):
        try:
            async with transaction(sessions) as session:
                return await _record(session, batch)
        except IntegrityError:
            # A concurrent attempt wrote the same key first; the next round sees it and skips it.
            continue
    raise RuntimeError(f"could not record lifecycle facts of measure {batch.measure_id}")


async def _record(session: AsyncSession, batch: FactBatch) -> FactsRecorded:
    known = set(
        (
            await session.exec(
                select(LifecycleEvent.key).where(LifecycleEvent.measure_id == batch.measure_id)
            )
        ).all()
    )
    new = [r for r in batch.records if r.key not in known]
    if not new:
        return FactsRecorded(written=0)
    # Core statements, not the ORM's unit of work: every lifecycle step writes here.
    # The ledger rows go first: a concurrent attempt that wrote them already fails here.
    await session.exec(
        insert(LifecycleEvent),
        params=[
            {
                "measure_id": batch.measure_id,
                "key": item.key,
                "kind": item.fact.kind,
                "occurred_at": batch.at,
            }
            for item in new
        ],
    )
    trail = [await _apply(session, batch, item) for item in new]
    events = await audit.append(session, trail)
    head = events[-1]
    return FactsRecorded(written=len(new), anchor=AuditAnchor(event_id=head.id, hash=head.hash))


async def _apply(session: AsyncSession, batch: FactBatch, item: FactRecord) -> audit.Entry:
    """Write one fact's rows; returns its audit entry."""
    fact = item.fact
    measure_id = batch.measure_id
    by = getattr(fact, "by", None)
    actor = Actor(
        person_id=by,
        label=f"person:{by}" if by else "lifecycle",
        channel=Channel(getattr(fact, "channel", Channel.WORKFLOW)),
    )
    after = fact.model_dump(mode="json", exclude={"kind"})
    if isinstance(fact, GateSubmitted):
        await session.exec(
            insert(Gate).values(
                measure_id=measure_id,
                round=fact.round,
                target=fact.target,
                submitted_by=fact.by,
                submitted_at=batch.at,
                policy_version=fact.policy_version,
                required=[r.value for r in fact.required],
                criteria_checked=fact.criteria_checked,
                status=GateStatus.OPEN,
            )
        )
    elif isinstance(fact, GateDecided):
        await session.exec(
            insert(GateDecisionRecord).values(
                gate_id=_gate_id(measure_id, fact.round),
                role=fact.role,
                person_id=fact.by,
                on_behalf_of=fact.on_behalf_of,
                approve=fact.approve,
                comment=fact.comment,
                decided_at=batch.at,
            )
        )
    elif isinstance(fact, GateClosed):
        await session.exec(
            update(Gate)
            .where(col(Gate.measure_id) == measure_id, col(Gate.round) == fact.round)
            .values(
                status=GateStatus(fact.outcome),
                closed_at=batch.at,
                close_reason=fact.reason or None,
            )
        )
        await links.revoke(
            session,
            measure_id=measure_id,
            gate_round=fact.round,
            reason=f"the gate was {fact.outcome}"
            + (f" ({fact.reason})" if fact.outcome == "withdrawn" and fact.reason else ""),
            now=batch.at,
        )
    elif isinstance(fact, StageChanged):
        await session.exec(
            update(Measure)
            .where(col(Measure.id) == measure_id)
            .values(_stage_columns(fact, batch.at))
        )
        await totals.restage(session, measure_id, fact.to_stage)
        if fact.to_stage in (Stage.ON_HOLD, Stage.CANCELLED):
            reason = "the measure was " + (
                "put on hold" if fact.to_stage is Stage.ON_HOLD else "cancelled"
            )
            await links.revoke(session, measure_id=measure_id, reason=reason, now=batch.at)
    elif isinstance(fact, ClosureConfirmed):
        await session.exec(
            insert(MonthlyValue),
            params=[
                {
                    "impact_line_id": figure.impact_line_id,
                    "scenario": Scenario.VERIFIED,
                    "period": figure.period,
                    "amount": figure.amount,
                }
                for figure in fact.verified.figures
            ],
        )
        await totals.refresh(session, [measure_id])
    elif isinstance(fact, ApproverReplaced):
        # Their links die with the approval they were for.
        for person_id in fact.replaced:
            await links.revoke(
                session,
                measure_id=measure_id,
                gate_round=fact.round,
                person_id=person_id,
                reason=f"another person now acts as {fact.role.label}",
                now=batch.at,
            )
    elif isinstance(fact, EscalationFired):
        after = {
            "step": fact.step.kind.value,
            "recipient": fact.step.recipient.value,
            "key": fact.step.key,
        }
    return audit.Entry(
        actor=actor,
        entity_type="measure",
        entity_id=measure_id,
        action=f"lifecycle.{fact.kind}",
        after=after,
        reason=getattr(fact, "reason", None) or getattr(fact, "comment", None) or None,
    )


def _stage_columns(fact: StageChanged, at: datetime) -> dict[str, Any]:
    """The measure's columns a stage change sets."""
    columns: dict[str, Any] = {"stage": fact.to_stage, "updated_at": at}
    if fact.to_stage is Stage.ON_HOLD:
        columns |= {"hold_reason": fact.reason, "hold_review_date": fact.review_date}
    elif fact.from_stage is Stage.ON_HOLD:
        columns |= {"hold_reason": None, "hold_review_date": None}
    if fact.to_stage is Stage.CANCELLED:
        columns["cancel_reason"] = fact.reason
    if fact.to_stage is Stage.DECIDED:
        # The plan freezes once: baseline version 1, however often the fact is replayed.
        unfrozen = col(Measure.plan_frozen_at).is_(None)
        columns["plan_frozen_at"] = func.coalesce(col(Measure.plan_frozen_at), at)
        columns["plan_version"] = case((unfrozen, 1), else_=col(Measure.plan_version))
        # The approvers decided on the forecast as it stood: it counts as confirmed that day.
        columns["forecast_confirmed_on"] = func.coalesce(
            col(Measure.forecast_confirmed_on), at.date()
        )
    return columns


def _gate_id(measure_id: int, round_: int) -> Any:
    """The id of the measure's gate of `round_`, as a subquery."""
    return (
        select(Gate.id)
        .where(col(Gate.measure_id) == measure_id, col(Gate.round) == round_)
        .scalar_subquery()
    )
