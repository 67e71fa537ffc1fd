"""Owners edit their figures through the API: exact money, no silent overwrite, frozen plan and
final verified figures refused, every change one audit event."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditEvent
from models.columns import utcnow
from models.measure import Measure
from models.stages import Stage
from services.db import transaction
from tests.factories import Org, as_person, complete_measure, make_org
from tests.lifecycle_helpers import line_id


async def _measure(sessions: async_sessionmaker[AsyncSession]) -> tuple[Org, str]:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    line = await line_id(sessions, measure_id)
    return org, f"/api/measures/{measure_id}/lines/{line}/values"


async def _changes(sessions: async_sessionmaker[AsyncSession]) -> list[AuditEvent]:
    async with sessions() as session:
        return list(
            await session.exec(select(AuditEvent).where(AuditEvent.action == "figures.changed"))
        )


async def test_the_owner_enters_a_forecast_exactly(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, url = await _measure(sessions)
    owner = as_person(org.owner_id)
    read = await client.get(f"{url}/forecast", headers=owner)
    assert read.status_code == 200 and read.json() == {"values": [], "currency": "EUR"}

    body = {"values": [{"period": "2027-01-01", "amount": "12345.67"}]}
    saved = await client.put(
        f"{url}/forecast", json=body, headers=owner | {"If-Match": read.headers["etag"]}
    )

    assert saved.status_code == 200, saved.text
    assert saved.headers["etag"] != read.headers["etag"]
    again = await client.get(f"{url}/forecast", headers=owner)
    assert again.json() == saved.json()
    assert [Decimal(v["amount"]) for v in again.json()["values"]] == [Decimal("12345.67")]
    [event] = await _changes(sessions)
    assert event.actor_id == org.owner_id
    assert event.after is not None
    assert event.before == {"line": event.after["line"], "scenario": "forecast", "values": {}}
    assert Decimal(event.after["values"]["2027-01-01"]) == Decimal("12345.67")


async def test_two_editors_of_the_same_figures_do_not_overwrite_each_other(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, url = await _measure(sessions)
    owner = as_person(org.owner_id)
    etag = (await client.get(f"{url}/actual", headers=owner)).headers["etag"]

    first, second = await asyncio.gather(
        client.put(
            f"{url}/actual",
            json={"values": [{"period": "2027-01-01", "amount": "100"}]},
            headers=owner | {"If-Match": etag},
        ),
        client.put(
            f"{url}/actual",
            json={"values": [{"period": "2027-01-01", "amount": "200"}]},
            headers=owner | {"If-Match": etag},
        ),
    )
    unguarded = await client.put(f"{url}/actual", json={"values": []}, headers=owner)

    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    stored = (await client.get(f"{url}/actual", headers=owner)).json()["values"]
    assert [v["amount"] for v in stored] == [winner.json()["values"][0]["amount"]]
    assert unguarded.status_code == 428
    assert len(await _changes(sessions)) == 1


async def test_wrong_months_and_amounts_are_named_and_nothing_is_written(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, url = await _measure(sessions)
    owner = as_person(org.owner_id)
    etag = (await client.get(f"{url}/forecast", headers=owner)).headers["etag"]

    wrong = await client.put(
        f"{url}/forecast",
        json={
            "values": [
                {"period": "2031-05-01", "amount": "10"},
                {"period": "2027-02-01", "amount": "10.125"},
                {"period": "2027-03-01", "amount": "ten"},
            ]
        },
        headers=owner | {"If-Match": etag},
    )

    assert wrong.status_code == 422
    assert "values" in str(wrong.json()["detail"][0]["loc"])  # "ten" is refused by the schema
    both = await client.put(
        f"{url}/forecast",
        json={
            "values": [
                {"period": "2031-05-01", "amount": "10"},
                {"period": "2027-02-01", "amount": "10.125"},
            ]
        },
        headers=owner | {"If-Match": etag},
    )
    assert both.status_code == 422
    named = {tuple(p["loc"]) for p in both.json()["detail"]}
    assert named == {("body", "values.2031-05-01"), ("body", "values.2027-02-01")}
    assert (await client.get(f"{url}/forecast", headers=owner)).json()["values"] == []
    assert await _changes(sessions) == []


async def test_frozen_plan_final_verified_and_other_people_are_refused(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, url = await _measure(sessions)
    owner = as_person(org.owner_id)
    plan_tag = (await client.get(f"{url}/plan", headers=owner)).headers["etag"]
    verified_tag = (await client.get(f"{url}/verified", headers=owner)).headers["etag"]
    forecast_tag = (await client.get(f"{url}/forecast", headers=owner)).headers["etag"]
    one = {"values": [{"period": "2027-01-01", "amount": "1"}]}

    verified = await client.put(
        f"{url}/verified", json=one, headers=owner | {"If-Match": verified_tag}
    )
    by_sponsor = await client.put(
        f"{url}/forecast", json=one, headers=as_person(org.sponsor_id) | {"If-Match": forecast_tag}
    )
    stranger = await make_org(sessions, tag=".x")
    by_stranger = await client.get(f"{url}/forecast", headers=as_person(stranger.owner_id))
    async with transaction(sessions) as session:  # the Decided gate has passed
        await session.exec(update(Measure).values(plan_frozen_at=utcnow()))  # type: ignore[call-overload]
    frozen = await client.put(f"{url}/plan", json=one, headers=owner | {"If-Match": plan_tag})

    assert verified.status_code == 422 and "controller's closure" in verified.text
    assert by_sponsor.status_code == 403
    assert by_stranger.status_code == 404
    assert frozen.status_code == 422 and "frozen" in frozen.text
    assert await _changes(sessions) == []


async def test_lines_and_milestones_bring_a_measure_to_its_implemented_gate(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org, stage=Stage.DECIDED)
    async with transaction(sessions) as session:  # as passing the Decided gate left it
        await session.exec(update(Measure).values(plan_frozen_at=utcnow()))  # type: ignore[call-overload]
    owner, base = as_person(org.owner_id), f"/api/measures/{measure_id}"
    unmet = (await client.get(f"{base}/checklist", headers=owner)).json()["unmet"]
    assert {u["code"] for u in unmet} == {"milestones_finished", "actuals_entered"}

    added = await client.post(
        f"{base}/lines",
        json={"category": "revenue_increase", "description": "Resold rack space"},
        headers=owner,
    )
    milestones = (await client.get(f"{base}/milestones", headers=owner)).json()
    by_sponsor = await client.patch(
        f"{base}/milestones/{milestones[0]['id']}",
        json={"done_date": "2027-02-03"},
        headers=as_person(org.sponsor_id),
    )
    done = await client.patch(
        f"{base}/milestones/{milestones[0]['id']}", json={"done_date": "2027-02-03"}, headers=owner
    )
    waived = await client.patch(
        f"{base}/milestones/{milestones[1]['id']}",
        json={"waived_reason": "the vendor switched the SAN off for us"},
        headers=owner,
    )
    line = (await client.get(f"{base}/lines", headers=owner)).json()[0]["id"]
    url = f"{base}/lines/{line}/values/actual"
    etag = (await client.get(url, headers=owner)).headers["etag"]
    actuals = await client.put(
        url,
        json={"values": [{"period": "2027-01-01", "amount": "9800.00"}]},
        headers=owner | {"If-Match": etag},
    )

    assert added.status_code == 422 and "frozen" in added.text  # Decided: the plan is frozen
    assert by_sponsor.status_code == 403
    assert done.status_code == 200 and done.json()["done_date"] == "2027-02-03"
    assert waived.status_code == 200
    assert actuals.status_code == 200
    assert (await client.get(f"{base}/checklist", headers=owner)).json()["unmet"] == []


async def test_a_line_is_added_before_the_plan_freezes(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    owner, base = as_person(org.owner_id), f"/api/measures/{measure_id}"

    added = await client.post(
        f"{base}/lines",
        json={
            "category": "one_time_cost",
            "description": "Migration services",
            "annual_potential": "-25000.00",
        },
        headers=owner,
    )
    too_precise = await client.post(
        f"{base}/lines",
        json={"category": "capex", "description": "Racks", "annual_potential": "1.005"},
        headers=owner,
    )

    assert added.status_code == 201 and added.json()["category"] == "one_time_cost"
    assert too_precise.status_code == 422
    assert too_precise.json()["detail"][0]["loc"] == ["body", "annual_potential"]
    lines = (await client.get(f"{base}/lines", headers=owner)).json()
    assert [line["description"] for line in lines] == [
        "SAN maintenance no longer paid",
        "Migration services",
    ]


async def test_a_line_is_corrected_or_removed_until_the_plan_freezes(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)
    line = await line_id(sessions, measure_id)
    owner, base = as_person(org.owner_id), f"/api/measures/{measure_id}/lines"

    fixed = await client.patch(
        f"{base}/{line}",
        headers=owner,
        json={"description": "SAN support contract", "category": "revenue_increase"},
    )
    assert fixed.status_code == 200
    assert (fixed.json()["description"], fixed.json()["category"]) == (
        "SAN support contract",
        "revenue_increase",
    )
    bad = await client.patch(f"{base}/{line}", headers=owner, json={"annual_potential": "0.001"})
    assert bad.status_code == 422
    sponsor = await client.patch(
        f"{base}/{line}", headers=as_person(org.sponsor_id), json={"description": "Mine"}
    )
    assert sponsor.status_code == 403

    extra = (
        await client.post(base, headers=owner, json={"category": "capex", "description": "Racks"})
    ).json()
    assert (await client.delete(f"{base}/{extra['id']}", headers=owner)).status_code == 204
    listed = (await client.get(base, headers=owner)).json()
    assert [entry["id"] for entry in listed] == [line]

    async with transaction(sessions) as session:
        await session.exec(
            update(Measure).where(Measure.id == measure_id).values(plan_frozen_at=utcnow())  # type: ignore[arg-type]
        )
    frozen = await client.patch(f"{base}/{line}", headers=owner, json={"description": "Later"})
    assert frozen.status_code == 422 and "frozen" in frozen.text
    gone = await client.delete(f"{base}/{line}", headers=owner)
    assert gone.status_code == 422
    async with sessions() as session:
        actions = (
            await session.exec(
                select(AuditEvent.action).where(AuditEvent.entity_id == str(measure_id))
            )
        ).all()
    assert actions.count("impact_line.changed") == 1
    assert actions.count("impact_line.removed") == 1
    # the kept line still has its plan
    values = (await client.get(f"{base}/{line}/values/plan", headers=owner)).json()["values"]
    assert len(values) == 12


async def test_figures_say_their_currency_and_another_currency_is_refused(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org, url = await _measure(sessions)
    owner = as_person(org.owner_id)
    read = await client.get(f"{url}/forecast", headers=owner)
    body = {"values": [{"period": "2027-01-01", "amount": "100.00"}], "currency": "USD"}

    refused = await client.put(
        f"{url}/forecast", json=body, headers=owner | {"If-Match": read.headers["etag"]}
    )
    saved = await client.put(
        f"{url}/forecast",
        json=body | {"currency": "eur"},
        headers=owner | {"If-Match": read.headers["etag"]},
    )

    assert read.json()["currency"] == "EUR"
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "currency"]
    assert "are in EUR (its legal entity's), not USD" in refused.json()["detail"][0]["msg"]
    assert saved.status_code == 200 and saved.json()["currency"] == "EUR"
