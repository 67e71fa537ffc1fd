"""Business units, legal entities and exchange rates through the REST API."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.people import Person
from services.db import transaction
from tests.factories import as_person, give_api_token
from tests.rollup_data import JAN, Figures, add_measure, make_tree


async def _someone(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(sessions) as session:
        person = Person(email="nina.nobody@rollup.example", name="Nina Nobody")
        session.add(person)
    await give_api_token(sessions, person)
    return person.id or 0


async def test_admins_keep_business_units_and_legal_entities(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    org = tree.organization_id
    unit = await client.post(
        "/api/business-units", json={"organization_id": org, "code": "FIN", "name": "Finance"}
    )
    assert unit.status_code == 201
    again = await client.post(
        "/api/business-units", json={"organization_id": org, "code": "FIN", "name": "Finance 2"}
    )
    assert again.status_code == 409
    entity = await client.post(
        "/api/legal-entities",
        json={"organization_id": org, "code": "RC-JP", "name": "RC KK", "currency": "jpy"},
    )
    assert entity.status_code == 201 and entity.json()["currency"] == "JPY"
    bad = await client.post(
        "/api/legal-entities",
        json={"organization_id": org, "code": "RC-XX", "name": "RC ?", "currency": "EURO"},
    )
    assert bad.status_code == 422 and "currency" in bad.text
    moved = await client.patch(
        f"/api/legal-entities/{entity.json()['id']}",
        json={"name": "RC Japan KK", "currency": "USD"},
    )
    assert moved.status_code == 422  # the currency cannot change

    nobody = await _someone(sessions)
    listed = await client.get("/api/business-units", headers=as_person(nobody))
    assert "FIN" in [u["code"] for u in listed.json()]
    refused = await client.post(
        "/api/business-units",
        headers=as_person(nobody),
        json={"organization_id": org, "code": "HR", "name": "HR"},
    )
    assert refused.status_code == 403
    codes = [u["code"] for u in (await client.get("/api/business-units")).json()]
    assert "HR" not in codes


async def test_rates_convert_the_rollups_and_only_admins_set_them(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    await add_measure(
        sessions, tree, Figures(plan={JAN: "1000"}), currency="USD", today=date.today()
    )
    rates = f"/api/organizations/{tree.organization_id}/rates"
    rollup = f"/api/portfolios/{tree.portfolio_id}/rollup"

    before = (await client.get(rollup)).json()["rollup"]
    assert (before["plan"], before["missing_rates"]) == ("0.0000", ["USD"])

    assert (await client.put(f"{rates}/usd", json={"rate": "0.92"})).status_code == 200
    assert (await client.get(rollup)).json()["rollup"]["plan"] == "920.0000"
    assert (await client.put(f"{rates}/USD", json={"rate": "0.95"})).status_code == 200
    after = (await client.get(rollup)).json()["rollup"]
    assert (after["plan"], after["missing_rates"]) == ("950.0000", [])
    assert [r["currency"] for r in (await client.get(rates)).json()] == ["USD"]

    for body in ({"rate": "0"}, {"rate": "-1"}, {"rate": "abc"}, {"rate": "1e-12"}, {}):
        assert (await client.put(f"{rates}/USD", json=body)).status_code == 422, body
    group = await client.put(f"{rates}/EUR", json={"rate": "1"})
    assert group.status_code == 422 and "group currency" in group.text
    assert (await client.put(f"{rates}/QQQ", json={"rate": "1"})).status_code == 422

    nobody = await _someone(sessions)
    refused = await client.put(f"{rates}/USD", json={"rate": "9"}, headers=as_person(nobody))
    assert refused.status_code == 403
    assert (await client.get(rollup)).json()["rollup"]["plan"] == "950.0000"

    assert (await client.delete(f"{rates}/USD")).status_code == 204
    assert (await client.get(rollup)).json()["rollup"]["missing_rates"] == ["USD"]
