"""Segregation of duties is enforced by the workflow itself, whichever action tries to break it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.gates import GateDecisionRecord, LifecycleEvent
from models.measure import Measure
from models.people import Person
from models.stages import Stage
from services.db import transaction
from tests.factories import (
    Org,
    add_steering_member,
    complete_measure,
    give_api_token,
    make_org,
    start_lifecycle,
)
from tests.lifecycle_helpers import Api, count, db_stage, line_id, verified_figures

pytestmark = pytest.mark.usefixtures("worker")


async def _setup(
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    http: httpx.AsyncClient,
    stage: Stage = Stage.DEFINED,
) -> tuple[Api, Org]:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, stage=stage, implemented=True)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    return Api(http, measure_id), org


async def _refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]["message"]


@pytest.mark.parametrize("who", ["sponsor", "controller"])
async def test_only_the_owner_submits(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    who: str,
) -> None:
    api, org = await _setup(sessions, temporal_env, settings, client)
    await _refused(await api.submit(getattr(org, f"{who}_id")), "only the measure's owner submits")
    assert await count(sessions, LifecycleEvent) == 0


async def test_the_submitter_never_approves_their_own_submission(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await _setup(sessions, temporal_env, settings, client)
    await api.submit(org.owner_id)
    await _refused(
        await api.decide(org.owner_id), "the submitter never approves their own submission"
    )
    await _refused(
        await api.decide(org.owner_id, approve=False, comment="no"), "the submitter never approves"
    )
    assert await count(sessions, GateDecisionRecord) == 0


async def test_someone_who_is_not_an_approver_cannot_decide(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await _setup(sessions, temporal_env, settings, client)
    await api.submit(org.owner_id)  # the gate to Identified: the sponsor approves
    await _refused(await api.decide(org.controller_id), "not a pending approver")
    async with transaction(sessions) as session:
        outsider = Person(email="otto.outsider@acme.example", name="Otto Outsider")
        session.add(outsider)
    await give_api_token(sessions, outsider)
    # someone with no role on the measure does not even see it
    assert (await api.decide(outsider.id or 0)).status_code == 404
    assert await db_stage(sessions, api.measure_id) is Stage.DEFINED


async def test_nobody_approves_twice_even_holding_two_roles(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    from decimal import Decimal

    from models.audit import Actor, Channel
    from models.gates import SteeringMember
    from models.policy import default_policy
    from services import policies

    api, org = await _setup(sessions, temporal_env, settings, client, stage=Stage.DETAILED)
    async with transaction(sessions) as session:  # the sponsor also sits on the steering committee
        session.add(SteeringMember(portfolio_id=org.portfolio_id, person_id=org.sponsor_id))
        await policies.publish(
            session,
            portfolio_id=org.portfolio_id,
            policy=default_policy(Decimal(1)),
            actor=Actor(label="pmo", channel=Channel.API),
        )
    other = await add_steering_member(sessions, org, "second.member@acme.example")
    gate = (await api.submit(org.owner_id)).json()
    assert "steering_committee" in gate["required"]

    assert (await api.decide(org.sponsor_id)).status_code == 200
    await _refused(await api.decide(org.sponsor_id), "already decided on this gate")
    await api.decide(org.controller_id)
    assert (await api.decide(other)).json()["stage"] == "decided"


@pytest.mark.parametrize("who", ["owner", "sponsor"])
async def test_only_the_controller_confirms_closure(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    who: str,
) -> None:
    api, org = await _setup(sessions, temporal_env, settings, client, stage=Stage.IMPLEMENTED)
    await api.submit(org.owner_id)
    figures = verified_figures(await line_id(sessions, api.measure_id))
    await _refused(
        await api.close(getattr(org, f"{who}_id"), figures),
        "only the measure's controller confirms closure",
    )
    assert await db_stage(sessions, api.measure_id) is Stage.IMPLEMENTED


@pytest.mark.parametrize("action", ["hold", "cancel", "resume"])
async def test_the_controller_cannot_hold_resume_or_cancel(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    action: str,
) -> None:
    api, org = await _setup(sessions, temporal_env, settings, client)
    if action == "resume":
        await api.hold(org.owner_id)
    response = await getattr(api, action)(org.controller_id)
    await _refused(response, "only the measure's owner or sponsor may")


async def test_owner_sponsor_and_controller_must_differ_when_a_gate_is_submitted(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    api, org = await _setup(sessions, temporal_env, settings, client)
    async with transaction(sessions) as session:  # changed behind the API's back
        measure = await session.get(Measure, api.measure_id)
        assert measure is not None
        measure.sponsor_id = org.owner_id
        session.add(measure)
    await _refused(await api.submit(org.owner_id), "three different people")
    assert await count(sessions, LifecycleEvent) == 0
