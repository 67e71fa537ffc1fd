"""Writing lifecycle facts: each in the same transaction as its audit event, each at most once."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import Actor, Channel
from models.figures import MonthlyValue
from models.gates import Gate, GateDecisionRecord, GateStatus, LifecycleEvent
from models.measure import Measure
from models.money import Scenario
from models.stages import Stage
from services import audit, links
from services.db import transaction
from workflows.contracts import (
    ClosureConfirmed,
    EscalationFired,
    FactBatch,
    FactRecord,
    GateClosed,
    GateDecided,
    GateSubmitted,
    StageChanged,
)


async def record(sessions: async_sessionmaker[AsyncSession], batch: FactBatch) -> int:
    """Write the batch's facts that are not yet written; returns how many were new."""
    for _ in range(3):
        try:
            async with transaction(sessions) as session:
                return await _record(session, batch)
        except IntegrityError:
            # A concurrent attempt wrote the same key first; the next round sees it and skips it.
            continue
    raise RuntimeError(f"could not record lifecycle facts of measure {batch.measure_id}")


async def _record(session: AsyncSession, batch: FactBatch) -> int:
    known = set(
        (
            await session.exec(
                select(LifecycleEvent.key).where(LifecycleEvent.measure_id == batch.measure_id)
            )
        ).all()
    )
    new = [r for r in batch.records if r.key not in known]
    trail: list[audit.Entry] = []
    for item in new:
        session.add(
            LifecycleEvent(
                measure_id=batch.measure_id, key=item.key, kind=item.fact.kind, occurred_at=batch.at
            )
        )
        trail.append(await _apply(session, batch, item))
    await session.flush()
    await audit.append(session, trail)
    return len(new)


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
        session.add(
            Gate(
                measure_id=measure_id,
                round=fact.round,
                target=fact.target,
                submitted_by=fact.by,
                submitted_at=batch.at,
                policy_version=fact.policy_version,
                required=[r.value for r in fact.required],
                criteria_checked=fact.criteria_checked,
            )
        )
    elif isinstance(fact, GateDecided):
        gate = await _gate(session, measure_id, fact.round)
        session.add(
            GateDecisionRecord(
                gate_id=gate.id or 0,
                role=fact.role,
                person_id=fact.by,
                approve=fact.approve,
                comment=fact.comment,
                decided_at=batch.at,
            )
        )
    elif isinstance(fact, GateClosed):
        gate = await _gate(session, measure_id, fact.round)
        gate.status = GateStatus(fact.outcome)
        gate.closed_at = batch.at
        gate.close_reason = fact.reason or None
        session.add(gate)
        await links.revoke(
            session,
            measure_id=measure_id,
            gate_round=fact.round,
            reason=f"the gate was {fact.outcome}"
            + (f" ({fact.reason})" if fact.outcome == "withdrawn" and fact.reason else ""),
            now=batch.at,
        )
    elif isinstance(fact, StageChanged):
        measure = await session.get(Measure, measure_id)
        assert measure is not None
        measure.stage = fact.to_stage
        measure.updated_at = batch.at
        if fact.to_stage is Stage.ON_HOLD:
            measure.hold_reason, measure.hold_review_date = fact.reason, fact.review_date
        elif fact.from_stage is Stage.ON_HOLD:
            measure.hold_reason, measure.hold_review_date = None, None
        if fact.to_stage is Stage.CANCELLED:
            measure.cancel_reason = fact.reason
        if fact.to_stage in (Stage.ON_HOLD, Stage.CANCELLED):
            reason = "the measure was " + (
                "put on hold" if fact.to_stage is Stage.ON_HOLD else "cancelled"
            )
            await links.revoke(session, measure_id=measure_id, reason=reason, now=batch.at)
        if fact.to_stage is Stage.DECIDED and measure.plan_frozen_at is None:
            measure.plan_frozen_at, measure.plan_version = batch.at, 1
        session.add(measure)
    elif isinstance(fact, ClosureConfirmed):
        session.add_all(
            MonthlyValue(
                impact_line_id=figure.impact_line_id,
                scenario=Scenario.VERIFIED,
                period=figure.period,
                amount=figure.amount,
            )
            for figure in fact.verified.figures
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


async def _gate(session: AsyncSession, measure_id: int, round_: int) -> Gate:
    return (
        await session.exec(select(Gate).where(Gate.measure_id == measure_id, Gate.round == round_))
    ).one()
