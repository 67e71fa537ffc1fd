"""Who sees what: an outsider nothing, an owner their measures, a portfolio manager or steering
member their portfolio — through the API and the pages alike."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.people import Person
from services import accounts
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import (
    Org,
    add_steering_member,
    as_person,
    give_api_token,
    make_org,
    measure_payload,
)
from tests.link_helpers import sign_in

pytestmark = pytest.mark.usefixtures("worker")


async def _someone(sessions: async_sessionmaker[AsyncSession], email: str) -> int:
    async with transaction(sessions) as session:
        person = Person(
            email=email,
            name=email.split("@")[0].title(),
            password_hash=accounts.hash_password(READER_PASSWORD),
        )
        session.add(person)
    await give_api_token(sessions, person)
    return person.id or 0


async def _two_portfolios(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> tuple[Org, int, Org, int]:
    first, second = await make_org(sessions), await make_org(sessions, tag=".b")
    a = (await client.post("/api/measures", json=measure_payload(first, title="First"))).json()
    b = (await client.post("/api/measures", json=measure_payload(second, title="Second"))).json()
    return first, a["id"], second, b["id"]


async def _listed(client: httpx.AsyncClient, person_id: int) -> list[str]:
    answer = await client.get("/api/measures", headers=as_person(person_id))
    return sorted(m["title"] for m in answer.json())


async def test_each_person_sees_what_their_roles_allow(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first, a, second, b = await _two_portfolios(client, sessions)
    outsider = await _someone(sessions, "oscar.outsider@acme.example")
    manager = await _someone(sessions, "mona.manager@acme.example")
    assert (
        await client.put(f"/api/portfolios/{first.portfolio_id}/managers/{manager}")
    ).status_code == 204
    member = await add_steering_member(sessions, second, "stan.steering@acme.example")

    assert await _listed(client, outsider) == []
    assert await _listed(client, first.owner_id) == ["First"]
    assert await _listed(client, manager) == ["First"]
    assert await _listed(client, member) == ["Second"]
    assert await _listed(client, first.owner_id) == ["First"]
    for path in (
        f"/api/measures/{b}",
        f"/api/measures/{b}/lifecycle",
        f"/api/measures/{b}/checklist",
    ):
        assert (await client.get(path, headers=as_person(outsider))).status_code == 404, path
        assert (await client.get(path, headers=as_person(manager))).status_code == 404, path
    assert (await client.get(f"/api/measures/{a}", headers=as_person(manager))).status_code == 200
    for person, measure in ((member, b), (first.owner_id, a), (manager, a)):
        answer = await client.get(f"/api/measures/{measure}/checklist", headers=as_person(person))
        assert answer.status_code == 200, (person, measure)
    acted = await client.post(f"/api/measures/{b}/gates", headers=as_person(outsider))
    assert acted.status_code == 404  # not even whether it exists


async def test_only_managers_and_admins_create_measures_and_set_policy(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    manager = await _someone(sessions, "mona.manager@acme.example")
    await client.put(f"/api/portfolios/{org.portfolio_id}/managers/{manager}")
    policy = (await client.get(f"/api/portfolios/{org.portfolio_id}/gate-policy")).json()

    by_owner = await client.post(
        "/api/measures", json=measure_payload(org), headers=as_person(org.owner_id)
    )
    by_manager = await client.post(
        "/api/measures", json=measure_payload(org), headers=as_person(manager)
    )
    policy_by_owner = await client.put(
        f"/api/portfolios/{org.portfolio_id}/gate-policy",
        json=policy,
        headers=as_person(org.owner_id),
    )
    policy_by_manager = await client.put(
        f"/api/portfolios/{org.portfolio_id}/gate-policy", json=policy, headers=as_person(manager)
    )

    assert by_owner.status_code == 403 and by_manager.status_code == 201
    assert policy_by_owner.status_code == 403 and policy_by_manager.status_code == 201
    removed = await client.delete(f"/api/portfolios/{org.portfolio_id}/managers/{manager}")
    assert removed.status_code == 204
    again = await client.post(
        "/api/measures", json=measure_payload(org), headers=as_person(manager)
    )
    assert again.status_code == 403


async def test_an_admin_seats_and_unseats_a_steering_committee_member(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first, *_ = await _two_portfolios(client, sessions)
    member = await _someone(sessions, "stella.steering@acme.example")
    seat = f"/api/portfolios/{first.portfolio_id}/steering-committee/{member}"
    assert await _listed(client, member) == []
    refused = await client.put(seat, headers=as_person(first.owner_id))
    assert refused.status_code == 403

    assert (await client.put(seat)).status_code == 204
    assert await _listed(client, member) == ["First"]
    people = await client.get(
        f"/api/portfolios/{first.portfolio_id}/people", headers=as_person(member)
    )
    assert [p["name"] for p in people.json()["steering_committee"]] == ["Stella.Steering"]

    assert (await client.delete(seat)).status_code == 204
    assert await _listed(client, member) == []
    hidden = await client.get(
        f"/api/portfolios/{first.portfolio_id}/people", headers=as_person(member)
    )
    assert hidden.status_code == 404


async def test_pages_show_only_what_the_viewer_may_see(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, a, _, b = await _two_portfolios(client, sessions)
    async with transaction(sessions) as session:
        owner = await session.get(Person, first.owner_id)
        assert owner is not None
        owner.password_hash = accounts.hash_password(READER_PASSWORD)
        session.add(owner)
    await sign_in(browser, "olivia.owner@acme.example", READER_PASSWORD)

    listing = await browser.get("/measures")

    assert f'href="/measures/{a}"' in listing.text and f'href="/measures/{b}"' not in listing.text
    assert (await browser.get(f"/measures/{a}")).status_code == 200
    assert (await browser.get(f"/measures/{b}")).status_code == 404
