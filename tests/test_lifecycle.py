"""A measure's lifecycle through the REST API, against the real dev server and a real worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.audit import Actor, Channel
from models.figures import Milestone, MonthlyValue
from models.gates import GateDecisionRecord, GateStatus, LifecycleEvent
from models.money import Scenario
from models.policy import default_policy
from models.stages import Stage
from services import audit, policies, totals
from services.db import transaction
from tests.factories import Org, add_steering_member, make_org, start_lifecycle
from tests.lifecycle_helpers import (
    Api,
    count,
    db_stage,
    gates,
    line_id,
    start_measure,
    verified_figures,
)
from tests.record_history import keep
from tests.support import CapturingSmtp
from workflows import search_attributes as sa

pytestmark = pytest.mark.usefixtures("worker")


@dataclass(frozen=True)
class Started:
    """A complete measure in Defined with its lifecycle running, and that workflow."""

    api: Api
    org: Org
    handle: WorkflowHandle  # type: ignore[type-arg]


@pytest_asyncio.fixture(loop_scope="session")
async def started(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> Started:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    return Started(api, org, temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}"))


# The gate to each stage, the stage it starts from, and who approves it by default.
GATES = [
    (Stage.IDENTIFIED, Stage.DEFINED, ["sponsor"]),
    (Stage.DETAILED, Stage.IDENTIFIED, ["controller"]),
    (Stage.DECIDED, Stage.DETAILED, ["sponsor", "controller"]),
    (Stage.IMPLEMENTED, Stage.DECIDED, ["sponsor"]),
]


async def test_happy_path_from_defined_to_closed(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    roles = {"sponsor": org.sponsor_id, "controller": org.controller_id}
    handle = temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}")

    for target, _, approvers in GATES:
        if target is Stage.IMPLEMENTED:  # the owner finished the work: milestones and actuals
            await _finish_implementation(sessions, api.measure_id)
        await api.pass_gate(org, [roles[a] for a in approvers])
        assert (await api.view())["stage"] == target
        assert await db_stage(sessions, api.measure_id) is target
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.MEASURE_STAGE) == target.value

    submitted = await api.submit(org.owner_id)
    assert submitted.status_code == 201, submitted.text
    assert (await handle.describe()).typed_search_attributes.get(sa.PENDING_APPROVER_ROLES) == [
        "controller"
    ]
    line = await line_id(sessions, api.measure_id)
    closed = await api.close(org.controller_id, verified_figures(line))

    assert closed.status_code == 200, closed.text
    assert closed.json()["stage"] == "closed"
    assert await db_stage(sessions, api.measure_id) is Stage.CLOSED
    assert await handle.result() is not None
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert [g.status for g in await gates(sessions, api.measure_id)] == [GateStatus.APPROVED] * 5
    assert await count(sessions, MonthlyValue, scenario=Scenario.VERIFIED) == 2
    async with sessions() as session:
        assert await audit.verify_chain(session) == []
    await keep(handle, "happy_path_defined_to_closed")
    subjects = [m["Subject"] for m in await smtp.wait_for(12)]
    assert any("Verify figures to close" in s for s in subjects)
    assert any(s.startswith("[ValueGate] Closed: M-") for s in subjects)


async def _finish_implementation(
    sessions: async_sessionmaker[AsyncSession], measure_id: int
) -> None:
    line = await line_id(sessions, measure_id)
    async with transaction(sessions) as session:
        for milestone in (
            await session.exec(select(Milestone).where(Milestone.measure_id == measure_id))
        ).all():
            milestone.done_date = date(2027, 3, 1)
            session.add(milestone)
        session.add(
            MonthlyValue(
                impact_line_id=line,
                scenario=Scenario.ACTUAL,
                period=date(2027, 1, 1),
                amount=Decimal(9000),
            )
        )
        await session.flush()
        await totals.refresh(session, [measure_id])


@pytest.mark.parametrize(("target", "start", "approvers"), GATES, ids=[g[0].value for g in GATES])
async def test_rejection_returns_the_measure_to_its_owner_in_the_same_stage(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    smtp: CapturingSmtp,
    target: Stage,
    start: Stage,
    approvers: list[str],
) -> None:
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=start, implemented=True
    )
    rejecter = getattr(org, f"{approvers[-1]}_id")
    assert (await api.submit(org.owner_id)).status_code == 201

    rejected = await api.decide(
        rejecter, approve=False, comment="The business case double-counts licences."
    )

    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["stage"] == start and rejected.json()["gate"] is None
    assert await db_stage(sessions, api.measure_id) is start
    [gate] = await gates(sessions, api.measure_id)
    assert (gate.status, gate.close_reason) == (
        GateStatus.REJECTED,
        "The business case double-counts licences.",
    )
    outcome = [m for m in await smtp.wait_for(1 + len(approvers) + 1) if "rejected" in m["Subject"]]
    assert outcome and "double-counts licences" in outcome[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert (await api.submit(org.owner_id)).json()["round"] == 2
    await keep(
        temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}"),
        f"rejected_at_{target.value}",
    )


async def test_rejection_needs_a_comment(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    await api.submit(org.owner_id)
    response = await api.decide(org.sponsor_id, approve=False, comment="  ")
    assert response.status_code == 422
    assert "rejection needs a comment" in response.json()["detail"]["message"]
    assert await count(sessions, GateDecisionRecord) == 0


UNMET = {
    Stage.IDENTIFIED: ["roles_assigned", "legal_entity", "impact_estimated"],
    Stage.DETAILED: ["baseline", "plan_phased", "milestones_planned"],
    Stage.DECIDED: [
        "roles_assigned",
        "legal_entity",
        "impact_estimated",
        "baseline",
        "plan_phased",
        "milestones_planned",
    ],
    Stage.IMPLEMENTED: ["milestones_finished", "actuals_entered"],
}


@pytest.mark.parametrize(
    ("target", "start"), [(g[0], g[1]) for g in GATES], ids=[g[0].value for g in GATES]
)
async def test_unmet_criteria_refuse_the_submission_and_record_nothing(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    target: Stage,
    start: Stage,
) -> None:
    from models.measure import MeasureCreate
    from services import measures
    from tests.factories import TESTER, measure_payload

    org = await make_org(sessions)
    async with transaction(sessions) as session:  # a bare measure: only title, package and owner
        measure, _ = await measures.create(
            session,
            data=MeasureCreate.model_validate(
                measure_payload(
                    org, sponsor_id=None, controller_id=None, legal_entity_id=None, plan_start=None
                )
            ),
            actor=TESTER,
        )
        measure.stage = start
        session.add(measure)
        await session.flush()
        session.add(
            Milestone(
                measure_id=measure.id or 0, title="Plan agreed", planned_date=date(2027, 5, 1)
            )
        )
        await session.flush()
        await totals.refresh(session, [measure.id or 0])  # its stage and milestone
    assert measure.id is not None
    await start_lifecycle(sessions, temporal_env.client, measure.id, settings.temporal_task_queue)
    api = Api(client, measure.id)

    response = await api.submit(org.owner_id)
    checklist = (await client.get(f"/api/measures/{measure.id}/checklist")).json()

    assert response.status_code == 422, response.text
    codes = [c["code"] for c in response.json()["detail"]["unmet_criteria"]]
    assert codes == UNMET[target]
    assert [c["code"] for c in checklist["unmet"]] == codes  # one evaluation, two channels
    assert checklist["next_gate"] == target.value
    assert await gates(sessions, measure.id) == []
    assert await count(sessions, LifecycleEvent) == 0
    assert (await api.view())["gate"] is None


async def test_hold_and_resume(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, stage=Stage.IDENTIFIED)
    await api.submit(org.owner_id)

    held = await api.hold(org.sponsor_id, review_date="2099-06-30")

    assert held.status_code == 200, held.text
    assert held.json()["stage"] == "on_hold"
    assert held.json()["hold"]["resume_stage"] == "identified"
    assert await db_stage(sessions, api.measure_id) is Stage.ON_HOLD
    assert [g.status for g in await gates(sessions, api.measure_id)] == [GateStatus.WITHDRAWN]
    assert (await api.submit(org.owner_id)).status_code == 409
    assert (await api.decide(org.controller_id)).status_code == 409

    resumed = await api.resume(org.owner_id)

    assert resumed.status_code == 200
    assert resumed.json()["stage"] == "identified" and resumed.json()["hold"] is None
    assert await db_stage(sessions, api.measure_id) is Stage.IDENTIFIED
    async with sessions() as session:
        from models.measure import Measure

        measure = await session.get(Measure, api.measure_id)
        assert measure is not None and measure.hold_reason is None
    assert (await api.submit(org.owner_id)).status_code == 201
    await keep(
        temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}"), "hold_and_resume"
    )


async def test_hold_needs_a_future_review_date(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    response = await api.hold(org.owner_id, review_date="2001-01-01")
    assert response.status_code == 422
    assert await db_stage(sessions, api.measure_id) is Stage.DEFINED


@pytest.mark.parametrize(
    "stage",
    [
        Stage.DEFINED,
        Stage.IDENTIFIED,
        Stage.DETAILED,
        Stage.DECIDED,
        Stage.IMPLEMENTED,
        Stage.ON_HOLD,
    ],
)
async def test_cancel_at_every_stage_is_final(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    stage: Stage,
) -> None:
    api, org = await start_measure(
        sessions,
        temporal_env,
        settings,
        client,
        stage=Stage.IMPLEMENTED if stage is Stage.ON_HOLD else stage,
        implemented=True,
    )
    if stage is Stage.ON_HOLD:
        assert (await api.hold(org.owner_id)).status_code == 200
    elif stage is not Stage.DEFINED:
        assert (await api.submit(org.owner_id)).status_code == 201

    cancelled = await api.cancel(org.sponsor_id, reason="The saving moved to another programme.")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["stage"] == "cancelled"
    assert await db_stage(sessions, api.measure_id) is Stage.CANCELLED
    handle = temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}")
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert all(g.status is GateStatus.WITHDRAWN for g in await gates(sessions, api.measure_id))
    await keep(handle, f"cancelled_at_{stage.value}")


async def test_closure_is_blocked_until_the_controller_confirms_valid_figures(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=Stage.IMPLEMENTED, implemented=True
    )
    line = await line_id(sessions, api.measure_id)
    assert (await api.submit(org.owner_id)).status_code == 201

    waiting = await api.view()
    assert waiting["stage"] == "implemented"
    assert (waiting["gate"]["target"], waiting["gate"]["pending"]) == ("closed", ["controller"])
    assert (await api.decide(org.controller_id)).status_code == 422  # approving needs the figures
    bad = [
        {"impact_line_id": 999, "period": "2027-01-01", "amount": "100"},
        {"impact_line_id": line, "period": "2031-01-01", "amount": "100"},
        {"impact_line_id": line, "period": "2027-02-01", "amount": "-5.00"},
        {"impact_line_id": line, "period": "2027-03-01", "amount": "1.234"},
    ]
    refused = await api.close(org.controller_id, bad)
    assert refused.status_code == 422
    fields = {p["field"] for p in refused.json()["detail"]["problems"]}
    assert fields == {
        "figures[0].impact_line_id",
        "figures[1].period",
        "figures[2].amount",
        "figures[3].amount",
        "comment",
    }
    short = await api.close(org.controller_id, verified_figures(line, amount=Decimal("8000.00")))
    assert short.status_code == 422
    assert "20.0% short of plan" in short.json()["detail"]["problems"][0]["message"]
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED
    assert await count(sessions, MonthlyValue, scenario=Scenario.VERIFIED) == 0

    closed = await api.close(
        org.controller_id,
        verified_figures(line, amount=Decimal("8000.00")),
        comment="Contract ended two months late.",
    )

    assert closed.status_code == 200, closed.text
    assert await db_stage(sessions, api.measure_id) is Stage.CLOSED
    assert await count(sessions, MonthlyValue, scenario=Scenario.VERIFIED) == 2
    await keep(
        temporal_env.client.get_workflow_handle(f"measure-{api.measure_id}"),
        "closure_refused_then_confirmed",
    )


async def test_controller_can_reject_closure_back_to_implemented(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(
        sessions, temporal_env, settings, client, stage=Stage.IMPLEMENTED, implemented=True
    )
    await api.submit(org.owner_id)
    rejected = await api.decide(
        org.controller_id, approve=False, comment="Invoices still arrive for the SAN."
    )
    assert rejected.status_code == 200
    assert rejected.json()["stage"] == "implemented"
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED


async def test_the_same_decision_delivered_twice_acts_once(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, stage=Stage.DETAILED)
    await api.submit(org.owner_id, key="submit-1")
    again = await api.submit(org.owner_id, key="submit-1")
    first = await api.decide(org.sponsor_id, key="decide-1")
    second = await api.decide(org.sponsor_id, key="decide-1")
    third = await api.decide(org.sponsor_id, key="decide-2")

    assert again.status_code == 201 and again.json()["round"] == 1
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert third.status_code == 422 and "already decided" in third.json()["detail"]["message"]
    assert await count(sessions, GateDecisionRecord) == 1
    assert len(await gates(sessions, api.measure_id)) == 1


async def test_a_policy_change_applies_to_new_gates_only(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    opened = (await api.submit(org.owner_id)).json()
    stricter = default_policy()
    stricter.gates[Stage.DETAILED].approvers.append(stricter.gates[Stage.IDENTIFIED].approvers[0])
    async with transaction(sessions) as session:
        published = await policies.publish(
            session,
            portfolio_id=org.portfolio_id,
            policy=stricter,
            actor=Actor(label="pmo", channel=Channel.API),
        )

    await api.decide(org.sponsor_id)
    next_gate = (await api.submit(org.owner_id)).json()

    assert opened["policy_version"] == 0 and opened["required"] == ["sponsor"]
    assert next_gate["policy_version"] == published.version == 1
    assert next_gate["required"] == ["controller", "sponsor"]


async def test_large_measures_need_the_steering_committee_to_decide(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client, stage=Stage.DETAILED)
    member = await add_steering_member(sessions, org, "sc.chair@acme.example")
    async with transaction(sessions) as session:
        await policies.publish(
            session,
            portfolio_id=org.portfolio_id,
            policy=default_policy(Decimal(100_000)),
            actor=Actor(label="pmo", channel=Channel.API),
        )

    gate = (await api.submit(org.owner_id)).json()
    await api.decide(org.sponsor_id)
    await api.decide(org.controller_id)
    still_open = await api.view()
    decided = await api.decide(member)

    assert gate["required"] == ["sponsor", "controller", "steering_committee"]
    assert still_open["stage"] == "detailed" and still_open["gate"]["pending"] == [
        "steering_committee"
    ]
    assert decided.json()["stage"] == "decided"


async def test_every_lifecycle_fact_is_in_the_audit_trail(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    from models.audit import AuditEvent

    api, org = await start_measure(sessions, temporal_env, settings, client)
    await api.pass_gate(org, [org.sponsor_id])
    await api.hold(org.owner_id)
    await api.resume(org.owner_id)
    await api.cancel(org.sponsor_id)

    async with sessions() as session:
        actions = [
            e.action
            for e in (
                await session.exec(
                    select(AuditEvent)
                    .where(AuditEvent.entity_id == str(api.measure_id))
                    .order_by(AuditEvent.id)
                )
            ).all()
            if e.action.startswith("lifecycle.")
        ]
    assert actions == [
        "lifecycle.gate_submitted",
        "lifecycle.gate_decided",
        "lifecycle.gate_closed",
        "lifecycle.stage_changed",
        "lifecycle.stage_changed",
        "lifecycle.stage_changed",
        "lifecycle.stage_changed",
    ]


async def test_the_temporal_ui_shows_the_dual_status_as_the_figures_move(
    started: Started, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from tests.factories import MONTHLY_PLAN, months

    api, org, handle = started.api, started.org, started.handle
    started = (await handle.describe()).typed_search_attributes
    line = await line_id(sessions, api.measure_id)
    async with transaction(sessions) as session:  # the owner forecasts the full plan
        session.add_all(
            MonthlyValue(
                impact_line_id=line, scenario=Scenario.FORECAST, period=m, amount=MONTHLY_PLAN
            )
            for m in months()
        )
        await session.flush()
        await totals.refresh(session, [api.measure_id])

    await api.submit(org.owner_id)

    now = (await handle.describe()).typed_search_attributes
    assert started.get(sa.POTENTIAL_STATUS) == "red"  # a plan and nothing forecast yet
    assert now.get(sa.POTENTIAL_STATUS) == "green"
    assert now.get(sa.IMPLEMENTATION_STATUS) == "green"

    # Read again unchanged (hold and resume read the measure to authorise): no second write.
    assert (await api.hold(org.owner_id)).status_code == 200
    assert (await api.resume(org.owner_id)).status_code == 200
    assert await _status_upserts(handle) == 1


async def test_a_gate_submission_reads_the_measure_and_its_policy_together(
    started: Started,
) -> None:
    handle = started.handle

    assert (await started.api.submit(started.org.owner_id)).status_code == 201

    # The baseline workflow version carries no patch: nothing to filter by in the Temporal UI.
    assert "TemporalChangeVersion" not in (await handle.describe()).search_attributes
    # The submission reads the measure and its gate policy side by side: one workflow task asks
    # for both, so the owner waits for one read, not two in a row.
    asked_by: dict[str, int] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            asked_by[scheduled.activity_type.name] = scheduled.workflow_task_completed_event_id
    assert asked_by["load_measure_snapshot"] == asked_by["load_gate_policy"]


async def _status_upserts(handle: WorkflowHandle) -> int:  # type: ignore[type-arg]
    """How often the workflow wrote the dual status to the Temporal UI's search attributes."""
    written = 0
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            written += sa.POTENTIAL_STATUS.name in fields.indexed_fields
    return written


async def test_the_temporal_ui_status_moves_when_the_owner_edits_figures(
    started: Started, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """No gate needed: a saved forecast (or milestone) tells the workflow to read the status."""
    from tests.factories import MONTHLY_PLAN, as_person, months

    api, org, handle = started.api, started.org, started.handle
    line = await line_id(sessions, api.measure_id)
    url = f"/api/measures/{api.measure_id}/lines/{line}/values/forecast"
    owner = as_person(org.owner_id)
    etag = (await client.get(url, headers=owner)).headers["ETag"]
    body = {"values": [{"period": m.isoformat(), "amount": str(MONTHLY_PLAN)} for m in months()]}

    saved = await client.put(url, json=body, headers=owner | {"If-Match": etag})
    assert saved.status_code == 200, saved.text

    # Wait on the workflow's own history (a long poll): the signal, then the upsert it causes.
    signalled = False
    async for event in handle.fetch_history_events(wait_new_event=True):
        signalled |= event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        kind = EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        if signalled and event.event_type == kind:
            break
    shown = (await handle.describe()).typed_search_attributes
    assert shown.get(sa.POTENTIAL_STATUS) == "green"  # was red: a plan and nothing forecast
    await keep(handle, "figures_changed_refreshes_status")
    assert (await api.view())["stage"] == "defined"  # and nothing else happened


async def test_a_measure_without_a_lifecycle_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/measures/987654/gates")).status_code == 404
    assert (await client.get("/api/measures/987654/lifecycle")).status_code == 404
