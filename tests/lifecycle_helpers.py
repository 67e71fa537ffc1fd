"""Driving a measure's lifecycle through the REST API, as people do."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from models.figures import ImpactLine
from models.gates import Gate
from models.measure import Measure
from models.stages import Stage
from tests.factories import (
    MONTHLY_PLAN,
    Org,
    as_person,
    complete_measure,
    make_org,
    months,
    start_lifecycle,
)


@dataclass
class Api:
    http: httpx.AsyncClient
    measure_id: int

    async def submit(self, by: int, key: str | None = None) -> httpx.Response:
        return await self._post(by, "gates", {}, key)

    async def decide(
        self, by: int, approve: bool = True, comment: str = "", key: str | None = None
    ) -> httpx.Response:
        return await self._post(
            by, "gates/current/decision", {"approve": approve, "comment": comment}, key
        )

    async def close(
        self,
        by: int,
        figures: list[dict[str, Any]],
        comment: str = "",
        evidence: str = "GL export 2027-03",
    ) -> httpx.Response:
        body = {"verified": {"figures": figures, "evidence_ref": evidence, "comment": comment}}
        return await self._post(by, "closure", body, None)

    async def hold(
        self, by: int, review_date: str = "2099-01-01", reason: str = "budget freeze"
    ) -> httpx.Response:
        return await self._post(by, "hold", {"reason": reason, "review_date": review_date}, None)

    async def resume(self, by: int) -> httpx.Response:
        return await self._post(by, "resume", {}, None)

    async def cancel(self, by: int, reason: str = "no longer worth it") -> httpx.Response:
        return await self._post(by, "cancel", {"reason": reason}, None)

    async def view(self) -> dict[str, Any]:
        response = await self.http.get(f"/api/measures/{self.measure_id}/lifecycle")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def _post(
        self, by: int, path: str, body: dict[str, Any], key: str | None
    ) -> httpx.Response:
        """POST as person `by`, signed in with their API token."""
        headers = as_person(by) | ({"Idempotency-Key": key} if key else {})
        return await self.http.post(
            f"/api/measures/{self.measure_id}/{path}", json=body, headers=headers
        )

    async def pass_gate(self, org: Org, approvers: list[int]) -> None:
        """Submit the next gate as the owner and have every approver approve it."""
        submitted = await self.submit(org.owner_id)
        assert submitted.status_code == 201, submitted.text
        for approver in approvers:
            decided = await self.decide(approver)
            assert decided.status_code == 200, decided.text


def verified_figures(
    line_id: int, amount: Decimal = MONTHLY_PLAN, count: int = 2
) -> list[dict[str, Any]]:
    """Verified figures for the first `count` plan months of the measure's only line."""
    return [
        {"impact_line_id": line_id, "period": m.isoformat(), "amount": str(amount)}
        for m in months(count)
    ]


async def db_stage(sessions: async_sessionmaker[AsyncSession], measure_id: int) -> Stage:
    async with sessions() as session:
        measure = await session.get(Measure, measure_id)
        assert measure is not None
        await session.refresh(measure)
        return measure.stage


async def count(sessions: async_sessionmaker[AsyncSession], table: type, **where: Any) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(getattr(table, column) == value)
        return (await session.exec(query)).one()


async def gates(sessions: async_sessionmaker[AsyncSession], measure_id: int) -> list[Gate]:
    async with sessions() as session:
        return list(
            (
                await session.exec(
                    select(Gate).where(Gate.measure_id == measure_id).order_by(Gate.round)
                )
            ).all()
        )


async def line_id(sessions: async_sessionmaker[AsyncSession], measure_id: int) -> int:
    async with sessions() as session:
        return (
            await session.exec(select(ImpactLine.id).where(ImpactLine.measure_id == measure_id))
        ).one()  # type: ignore[return-value]


async def start_measure(
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    http: httpx.AsyncClient,
    stage: Stage = Stage.DEFINED,
    implemented: bool = False,
    submitted: bool = False,
) -> tuple[Api, Org]:
    """A complete measure at `stage` with its workflow running (and, with `submitted`, its next
    gate submitted by the owner)."""
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, stage=stage, implemented=implemented)
    await start_lifecycle(sessions, temporal_env.client, measure_id, settings.temporal_task_queue)
    api = Api(http, measure_id)
    if submitted:
        answer = await api.submit(org.owner_id)
        assert answer.status_code == 201, answer.text
    return api, org
