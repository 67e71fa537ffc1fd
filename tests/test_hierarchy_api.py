"""The hierarchy through the REST API: building it, who may change and see which node, and the
roll-ups each node answers with."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts import PortfolioManager
from models.audit import AuditEvent
from models.measure import Measure
from models.people import Person
from services.db import transaction
from tests.factories import as_person, give_api_token
from tests.rollup_data import JAN, Figures, add_measure, make_tree


async def _person(sessions: async_sessionmaker[AsyncSession], email: str) -> int:
    async with transaction(sessions) as session:
        person = Person(email=email, name=email.split("@")[0].title())
        session.add(person)
    await give_api_token(sessions, person)
    return person.id or 0


async def _build(client: httpx.AsyncClient) -> dict[str, int]:
    ids: dict[str, int] = {}
    steps = [
        ("organizations", "organization", {"name": "Globex", "group_currency": "chf"}),
        ("portfolios", "portfolio", {"organization_id": "organization", "name": "Run 2027"}),
        ("programs", "program", {"portfolio_id": "portfolio", "name": "Workplace"}),
        ("projects", "project", {"program_id": "program", "name": "Printers"}),
        ("packages", "package", {"project_id": "project", "name": "Fleet"}),
    ]
    for plural, level, body in steps:
        body = {k: ids[v] if k.endswith("_id") else v for k, v in body.items()}  # type: ignore[index]
        answer = await client.post(f"/api/{plural}", json=body)
        assert answer.status_code == 201, answer.text
        ids[level] = answer.json()["id"]
    return ids


async def test_an_admin_builds_the_hierarchy_and_every_step_is_audited(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _build(client)
    org = (await client.get(f"/api/organizations/{ids['organization']}")).json()
    assert org["group_currency"] == "CHF"
    listed = await client.get("/api/projects", params={"parent_id": ids["program"]})
    assert [p["name"] for p in listed.json()] == ["Printers"]

    renamed = await client.patch(f"/api/projects/{ids['project']}", json={"name": "Print"})
    assert renamed.json()["name"] == "Print"

    async with sessions() as session:
        events = (
            await session.exec(
                select(AuditEvent.action, AuditEvent.entity_id).order_by(col(AuditEvent.id))
            )
        ).all()
    assert [e for e in events if e[0].split(".")[0] in ids] == [
        ("organization.created", str(ids["organization"])),
        ("portfolio.created", str(ids["portfolio"])),
        ("program.created", str(ids["program"])),
        ("project.created", str(ids["project"])),
        ("package.created", str(ids["package"])),
        ("project.renamed", str(ids["project"])),
    ]


async def test_bad_input_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    bad_currency = await client.post(
        "/api/organizations", json={"name": "Initech", "group_currency": "XYZ"}
    )
    assert bad_currency.status_code == 422
    assert "XYZ" in bad_currency.text and "group_currency" in bad_currency.text
    orphan = await client.post("/api/programs", json={"portfolio_id": 999999, "name": "Orphan"})
    assert orphan.status_code == 422
    assert "portfolio_id" in orphan.text
    extra = await client.post(
        "/api/organizations", json={"name": "X", "group_currency": "EUR", "id": 5}
    )
    assert extra.status_code == 422
    listed = await client.get("/api/programs")
    assert "Orphan" not in [p["name"] for p in listed.json()]
    assert "X" not in [o["name"] for o in (await client.get("/api/organizations")).json()]


async def test_a_portfolio_manager_shapes_only_their_portfolio(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _build(client)
    other = await _build(client)
    manager = await _person(sessions, "mia.manager@globex.example")
    async with transaction(sessions) as session:
        session.add(PortfolioManager(portfolio_id=ids["portfolio"], person_id=manager))
    mine = await client.post(
        "/api/programs",
        headers=as_person(manager),
        json={"portfolio_id": ids["portfolio"], "name": "Network"},
    )
    assert mine.status_code == 201
    # another portfolio is not theirs to see, let alone change
    theirs = await client.post(
        "/api/programs",
        headers=as_person(manager),
        json={"portfolio_id": other["portfolio"], "name": "Network"},
    )
    assert theirs.status_code == 422
    rename = await client.patch(
        f"/api/projects/{other['project']}", headers=as_person(manager), json={"name": "Mine now"}
    )
    assert rename.status_code == 404
    # portfolios and organizations are for admins
    portfolio = await client.post(
        "/api/portfolios",
        headers=as_person(manager),
        json={"organization_id": ids["organization"], "name": "Side"},
    )
    assert portfolio.status_code == 403
    renamed = await client.patch(
        f"/api/portfolios/{ids['portfolio']}", headers=as_person(manager), json={"name": "Mine"}
    )
    assert renamed.status_code == 403
    seen = await client.get("/api/portfolios", headers=as_person(manager))
    assert [p["id"] for p in seen.json()] == [ids["portfolio"]]


async def test_rollups_answer_in_the_group_currency_over_what_the_person_may_see(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate="0.9")
    owner = await _person(sessions, "otto.owner@rollup.example")
    on_plan = await add_measure(sessions, tree, Figures(plan={JAN: "1000"}, forecast={JAN: "1000"}))
    await add_measure(
        sessions,
        tree,
        Figures(plan={JAN: "1000"}, forecast={JAN: "500"}, overdue_days=30),
        currency="USD",
        program="B",
        today=date.today(),
    )
    async with transaction(sessions) as session:
        measure = await session.get(Measure, on_plan)
        assert measure is not None
        measure.owner_id = owner
        session.add(measure)

    everything = (await client.get(f"/api/portfolios/{tree.portfolio_id}/rollup")).json()
    assert everything["rollup"]["currency"] == "EUR"
    assert everything["rollup"]["measures"] == 2
    assert everything["rollup"]["plan"] == "1900.0000"
    assert everything["rollup"]["achieved"] == "1450.0000"
    assert everything["rollup"]["value"] == "red"  # 76 %
    assert [c["name"] for c in everything["children"]] == ["Program A", "Program B"]
    assert [c["rollup"]["delivery"] for c in everything["children"]] == ["green", "red"]
    assert everything["path"] == [
        {"level": "organization", "id": tree.organization_id, "name": "Rollup Corp"}
    ]

    # the owner sees the path to their measure and values over it alone
    own = await client.get(f"/api/portfolios/{tree.portfolio_id}/rollup", headers=as_person(owner))
    assert own.json()["rollup"]["measures"] == 1
    assert own.json()["rollup"]["plan"] == "1000.0000"
    assert [c["name"] for c in own.json()["children"]] == ["Program A"]
    hidden = await client.get(f"/api/programs/{tree.programs['B']}", headers=as_person(owner))
    assert hidden.status_code == 404

    package = (await client.get(f"/api/packages/{tree.packages['A']}/rollup")).json()
    assert [(c["level"], c["id"]) for c in package["children"]] == [("measure", on_plan)]
    assert package["children"][0]["rollup"]["value"] == "green"
