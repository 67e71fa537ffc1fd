"""Gate policies are data per portfolio: read, published as new versions, validated."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.gates import GatePolicyVersion
from tests.factories import make_org
from tests.lifecycle_helpers import count


async def test_defaults_then_a_published_version(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    url = f"/api/portfolios/{org.portfolio_id}/gate-policy"

    default = (await client.get(url)).json()
    default["escalation"] = {
        "remind_after": "PT2M",
        "escalate_after": "PT5M",
        "final_escalation_after": "PT10M",
        "stage_sla": "PT30M",
        "stage_escalate_after": "PT10M",
    }
    default["closure_tolerance"] = "0.10"
    published = await client.put(url, json=default)
    current = (await client.get(url)).json()

    assert (default["version"], published.status_code, current["version"]) == (0, 201, 1)
    assert current["gates"]["identified"]["approvers"] == ["sponsor"]
    assert current["escalation"]["remind_after"] == "PT2M"
    assert current["closure_tolerance"] == "0.10"


async def test_an_invalid_policy_is_refused_and_nothing_is_saved(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    url = f"/api/portfolios/{org.portfolio_id}/gate-policy"
    policy = (await client.get(url)).json()
    policy["gates"]["closed"]["approvers"] = ["sponsor"]  # closure is the controller's alone
    del policy["gates"]["detailed"]
    policy["escalation"] = {"remind_after": "P5D", "escalate_after": "P2D"}

    response = await client.put(url, json=policy)

    assert response.status_code == 422
    assert await count(sessions, GatePolicyVersion) == 0


async def test_unknown_portfolio_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/portfolios/999999/gate-policy")).status_code == 404


async def test_a_negative_steering_threshold_is_refused(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    path = f"/api/portfolios/{org.portfolio_id}/gate-policy"
    policy = (await client.get(path)).json() | {"steering_threshold": "-1"}

    answer = await client.put(path, json=policy)

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "steering_threshold"]
    assert (await client.get(path)).json()["version"] == 0
