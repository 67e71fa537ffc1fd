"""The admin pages: forms that change people, rates, dimensions and gate policies — with CSRF,
for admins only, audited, and refusing bad input without writing anything."""

from __future__ import annotations

from datetime import timedelta

import httpx
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditEvent
from models.people import Person
from models.policy import Criterion
from models.stages import Stage
from services import accounts, policies
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import give_api_token
from tests.link_helpers import sign_in
from tests.rollup_data import make_tree


async def _csrf(browser: httpx.AsyncClient, path: str = "/admin") -> str:
    page = await browser.get(path)
    assert page.status_code == 200, page.text[:300]
    field = BeautifulSoup(page.text, "html.parser").select_one('input[name="csrf"]')
    assert field is not None
    return str(field["value"])


async def _people(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Person]:
    async with sessions() as session:
        return {p.email: p for p in (await session.exec(select(Person))).all()}


async def _can_sign_in(
    sessions: async_sessionmaker[AsyncSession], email: str, password: str
) -> bool:
    async with sessions() as session:
        return await accounts.check_password(session, email=email, password=password) is not None


async def test_an_admin_adds_and_deactivates_a_person(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    csrf = await _csrf(reader)
    added = await reader.post(
        "/admin/people",
        data={
            "csrf": csrf,
            "name": "Rita Requester",
            "email": "Rita@Globex.example",
            "password": "a long enough password",
        },
    )
    assert added.status_code == 303
    shown = await reader.get(added.headers["location"])
    assert "Added Rita Requester." in shown.text
    rita = (await _people(sessions))["rita@globex.example"]
    assert await _can_sign_in(sessions, "rita@globex.example", "a long enough password")

    deactivate = {"csrf": csrf, "active": "false"}
    unconfirmed = await reader.post(f"/admin/people/{rita.id}", data=deactivate)
    assert unconfirmed.status_code == 422 and "tick the box to confirm" in unconfirmed.text
    assert await _can_sign_in(sessions, "rita@globex.example", "a long enough password")
    off = await reader.post(f"/admin/people/{rita.id}", data=deactivate | {"confirm": "yes"})
    assert off.status_code == 303
    assert not await _can_sign_in(sessions, "rita@globex.example", "a long enough password")
    async with sessions() as session:
        events = (
            await session.exec(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "person", AuditEvent.entity_id == str(rita.id))
                .order_by(col(AuditEvent.id))
            )
        ).all()
    assert [(e.action, e.channel) for e in events] == [
        ("person.created", "page"),
        ("person.updated", "page"),
    ]


async def test_bad_input_shows_what_is_wrong_keeps_what_was_typed_and_writes_nothing(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await _people(sessions)
    csrf = await _csrf(reader)
    answer = await reader.post(
        "/admin/people", data={"csrf": csrf, "name": "Bad Email", "email": "not-an-email"}
    )
    assert answer.status_code == 422
    soup = BeautifulSoup(answer.text, "html.parser")
    alert = soup.select_one('[role="alert"]')
    assert alert is not None and "email" in alert.get_text()
    name = soup.select_one('form[action="/admin/people"] input[name="name"]')
    assert name is not None and name["value"] == "Bad Email"
    assert await _people(sessions) == before

    taken = next(iter(before))
    again = await reader.post("/admin/people", data={"csrf": csrf, "name": "Twin", "email": taken})
    assert again.status_code == 422 and "already has the email" in again.text


async def test_forms_need_the_csrf_value_and_an_admin(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        session.add(
            Person(
                email="ursula.user@acme.example",
                name="Ursula User",
                password_hash=accounts.hash_password(READER_PASSWORD),
            )
        )
    assert (await sign_in(browser, "ursula.user@acme.example", READER_PASSWORD)).status_code == 303
    assert (await browser.get("/admin")).status_code == 403
    refused = await browser.post("/admin/people", data={"name": "X", "email": "x@acme.example"})
    assert refused.status_code == 403
    assert "x@acme.example" not in await _people(sessions)


async def test_no_csrf_no_change(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    refused = await reader.post("/admin/people", data={"name": "Y", "email": "y@acme.example"})
    assert refused.status_code == 403
    assert "y@acme.example" not in await _people(sessions)


async def test_rates_and_dimensions_from_the_admin_page(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    csrf = await _csrf(reader)
    org = str(tree.organization_id)
    ok = await reader.post(
        "/admin/rates",
        data={"csrf": csrf, "organization_id": org, "currency": "usd", "rate": "0.9"},
    )
    assert ok.status_code == 303
    rates = await reader.get(f"/api/organizations/{org}/rates")
    assert [(r["currency"], r["rate"]) for r in rates.json()] == [("USD", "0.9")]
    for rate in ("-1", "zero", ""):
        bad = await reader.post(
            "/admin/rates",
            data={"csrf": csrf, "organization_id": org, "currency": "USD", "rate": rate},
        )
        assert bad.status_code == 422, rate
    group = await reader.post(
        "/admin/rates", data={"csrf": csrf, "organization_id": org, "currency": "EUR", "rate": "2"}
    )
    assert group.status_code == 422 and "group currency" in group.text

    entity = await reader.post(
        "/admin/legal-entities",
        data={
            "csrf": csrf,
            "organization_id": org,
            "code": "RC-UK",
            "name": "RC Ltd",
            "currency": "gbp",
        },
    )
    assert entity.status_code == 303
    listed = await reader.get("/api/legal-entities")
    assert ("RC-UK", "GBP") in [(e["code"], e["currency"]) for e in listed.json()]
    unit = await reader.post(
        "/admin/business-units",
        data={"csrf": csrf, "organization_id": org, "code": "OPS", "name": "Ops again"},
    )
    assert unit.status_code == 422 and "already has the code OPS" in unit.text


async def test_a_new_policy_version_from_the_policy_page(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    path = f"/admin/portfolios/{tree.portfolio_id}/policy"
    csrf = await _csrf(reader, path)
    form = {"csrf": csrf, "steering_threshold": "250000", "closure_tolerance_percent": "10",
            "remind_after": "0.0005", "escalate_after": "0.001", "final_escalation_after": "0.002",
            "stage_sla": "14", "stage_escalate_after": "5"}  # fmt: skip

    wrong_order = await reader.post(path, data=form | {"remind_after": "0.01"})
    assert wrong_order.status_code == 422
    assert "The reminder must come before the escalation" in wrong_order.text
    async with sessions() as session:
        assert (await policies.current(session, portfolio_id=tree.portfolio_id)).version == 0

    published = await reader.post(path, data=form)
    assert published.status_code == 303
    assert "Published version 1" in (await reader.get(published.headers["location"])).text
    async with sessions() as session:
        policy = await policies.current(session, portfolio_id=tree.portfolio_id)
    assert policy.version == 1
    assert str(policy.steering_threshold) == "250000"
    assert policy.escalation.remind_after == timedelta(seconds=43.2)
    assert policy.escalation.stage_sla == timedelta(days=14)
    assert (policy.link_sign_in.closure, policy.link_sign_in.at_or_above) == (False, None)

    assert str(policy.closure_tolerance) == "0.1"  # 10 % entered as a percentage
    negative = await reader.post(path, data=form | {"steering_threshold": "-1"})
    too_much = await reader.post(path, data=form | {"closure_tolerance_percent": "150"})
    assert (
        negative.status_code == 422 and "Steering threshold: must be at least 0." in negative.text
    )
    assert too_much.status_code == 422 and "enter a percentage between 0 and 100" in too_much.text

    stepped_up = form | {"link_sign_in_closure": "on", "link_sign_in_at_or_above": "500000"}
    assert (await reader.post(path, data=stepped_up)).status_code == 303
    async with sessions() as session:
        policy = await policies.current(session, portfolio_id=tree.portfolio_id)
    assert policy.version == 2
    assert (policy.link_sign_in.closure, str(policy.link_sign_in.at_or_above)) == (True, "500000")
    page = await reader.get(path)
    assert 'name="link_sign_in_closure" checked' in page.text
    assert 'name="link_sign_in_at_or_above" inputmode="decimal" value="500000"' in page.text


async def test_portfolio_roles_from_the_admin_page(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    async with transaction(sessions) as session:
        mona = Person(email="mona.manager@rollup.example", name="Mona Manager")
        session.add(mona)
    token = await give_api_token(sessions, mona)
    path = f"/admin/portfolios/{tree.portfolio_id}/policy"
    roles = f"/admin/portfolios/{tree.portfolio_id}/roles"
    csrf = await _csrf(reader, path)

    async def portfolios_mona_sees() -> list[int]:
        seen = await reader.get("/api/portfolios", headers={"Authorization": f"Bearer {token}"})
        return [p["id"] for p in seen.json()]

    assert await portfolios_mona_sees() == []
    given = await reader.post(
        roles, data={"csrf": csrf, "role": "managers", "person_id": str(mona.id), "give": "true"}
    )
    assert given.status_code == 303
    page = await reader.get(given.headers["location"])
    assert "Mona Manager is now a manager." in page.text
    managers = BeautifulSoup(page.text, "html.parser").select_one("#managers .holders")
    assert managers is not None and "Mona Manager" in managers.get_text()
    assert await portfolios_mona_sees() == [tree.portfolio_id]

    bad = await reader.post(
        roles, data={"csrf": csrf, "role": "owners", "person_id": str(mona.id), "give": "true"}
    )
    assert bad.status_code == 422 and "choose managers or steering-committee" in bad.text
    taken = await reader.post(
        roles, data={"csrf": csrf, "role": "managers", "person_id": str(mona.id), "give": "false"}
    )
    assert taken.status_code == 303
    assert await portfolios_mona_sees() == []


def _editor_form(page: str) -> dict[str, str]:
    """What the policy editor posts as it is shown: every field with its current value."""
    form = BeautifulSoup(page, "html.parser").select_one("form.policy-form")
    assert form is not None
    fields: dict[str, str] = {}
    for field in form.select("input"):
        kind, name = field.get("type", "text"), str(field.get("name"))
        if kind == "checkbox":
            if field.has_attr("checked"):
                fields[name] = "on"
        else:
            fields[name] = str(field.get("value", ""))
    for select_ in form.select("select"):
        chosen = select_.select_one("option[selected]") or select_.select_one("option")
        assert chosen is not None
        fields[str(select_["name"])] = str(chosen["value"])
    return fields


async def test_the_policy_editor_edits_each_gate_timings_in_units_and_shows_versions(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    path = f"/admin/portfolios/{tree.portfolio_id}/policy"
    shown = _editor_form((await reader.get(path)).text)
    assert shown["remind_after"] == "2" and shown["remind_after_unit"] == "days"
    assert shown["approvers:identified:sponsor"] == "on"
    assert "approvers:identified:controller" not in shown

    edited = shown | {
        "approvers:identified:controller": "on",  # the controller approves Identified too
        "criteria:detailed:milestones_planned": "",  # unticked: Detailed no longer asks for it
        "remind_after": "12",
        "remind_after_unit": "hours",
        "escalate_after": "90",
        "escalate_after_unit": "minutes",  # after the reminder: refused below
    }
    edited = {k: v for k, v in edited.items() if v != ""}
    wrong = await reader.post(path, data=edited)
    assert wrong.status_code == 422
    soup = BeautifulSoup(wrong.text, "html.parser")
    escalation = soup.select_one("#escalation .error")
    assert escalation is not None and "reminder must come before the escalation" in escalation.text
    assert 'name="remind_after" inputmode="decimal" value="12"' in wrong.text  # kept as typed
    no_approver = {k: v for k, v in edited.items() if not k.startswith("approvers:decided:")}
    refused = await reader.post(path, data=no_approver | {"escalate_after_unit": "days"})
    gate = BeautifulSoup(refused.text, "html.parser").select_one("#gate-decided .error")
    assert refused.status_code == 422 and gate is not None
    assert "Choose at least one approver" in gate.text
    async with sessions() as session:
        assert (await policies.current(session, portfolio_id=tree.portfolio_id)).version == 0

    published = await reader.post(
        path, data=edited | {"escalate_after": "3", "escalate_after_unit": "days"}
    )
    assert published.status_code == 303
    async with sessions() as session:
        policy = await policies.current(session, portfolio_id=tree.portfolio_id)
    assert policy.version == 1
    assert [r.value for r in policy.gates[Stage.IDENTIFIED].approvers] == ["sponsor", "controller"]
    assert Criterion.MILESTONES_PLANNED not in policy.gates[Stage.DETAILED].criteria
    assert policy.escalation.remind_after == timedelta(hours=12)
    page = await reader.get(path)
    versions = BeautifulSoup(page.text, "html.parser").select_one("#versions + table")
    assert versions is not None
    text = " ".join(versions.get_text().split())
    assert "Gate to Identified: approved by sponsor, controller (was sponsor)" in text
    assert "Gate to Detailed: no longer checks Milestones with dates and owners" in text
    assert "Remind the approver after 12 hours (was 2 days)" in text
    assert "built-in defaults" in text
    assert _editor_form(page.text)["remind_after_unit"] == "hours"
