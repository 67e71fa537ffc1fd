"""Signing in, API tokens, admins: the API and the pages act only for someone signed in, and
only as that person."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from api.auth import SESSION_COOKIE
from config.settings import Settings
from models.accounts import WebSession
from models.columns import utcnow
from models.people import Person
from services import accounts
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.factories import as_person, give_api_token
from tests.lifecycle_helpers import start_measure
from tests.link_helpers import PUBLIC, sign_in


async def _person(
    sessions: async_sessionmaker[AsyncSession], email: str, admin: bool = False
) -> Person:
    async with transaction(sessions) as session:
        person = Person(
            email=email,
            name=email.split("@")[0].title(),
            password_hash=accounts.hash_password(READER_PASSWORD),
            is_admin=admin,
        )
        session.add(person)
    return person


async def test_the_api_answers_nobody_who_is_not_signed_in(client: httpx.AsyncClient) -> None:
    anonymous = {"Authorization": ""}
    for method, path in [
        ("GET", "/api/measures"),
        ("POST", "/api/measures"),
        ("GET", "/api/measures/1/lifecycle"),
        ("POST", "/api/measures/1/gates"),
        ("GET", "/api/portfolios/1/gate-policy"),
        ("GET", "/api/me"),
    ]:
        answer = await client.request(method, path, headers=anonymous)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["www-authenticate"] == "Bearer"
    forged = await client.get("/api/me", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401 and "unknown or revoked" in forged.text
    assert (await client.get("/healthz", headers=anonymous)).status_code == 200


async def test_a_personal_token_works_until_revoked_and_is_shown_once(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person = await _person(sessions, "tom.token@acme.example")
    first = await give_api_token(sessions, person)
    mine = {"Authorization": f"Bearer {first}"}

    created = await client.post("/api/tokens", json={"name": "ci script"}, headers=mine)
    assert created.status_code == 201
    second = created.json()["token"]
    listed = (await client.get("/api/tokens", headers=mine)).json()
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {second}"})

    assert [t["name"] for t in listed] == ["tests", "ci script"]
    assert all("token" not in t for t in listed)
    assert me.json()["email"] == "tom.token@acme.example"
    revoked = await client.delete(f"/api/tokens/{created.json()['id']}", headers=mine)
    assert revoked.status_code == 204
    assert (
        await client.get("/api/me", headers={"Authorization": f"Bearer {second}"})
    ).status_code == 401
    assert (
        await client.delete(f"/api/tokens/{created.json()['id']}", headers=mine)
    ).status_code == 404


async def test_the_lifecycle_acts_as_whoever_is_signed_in(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    worker: object,
) -> None:
    api, org = await start_measure(sessions, temporal_env, settings, client)
    url = f"/api/measures/{api.measure_id}/gates"

    as_sponsor = await client.post(url, headers=as_person(org.sponsor_id))
    naming_another = await client.post(
        f"/api/measures/{api.measure_id}/hold",
        json={"by": org.owner_id, "reason": "x", "review_date": "2099-01-01"},
        headers=as_person(org.sponsor_id),
    )

    assert as_sponsor.status_code == 422 and "owner" in as_sponsor.text
    assert (
        naming_another.status_code == 422
    )  # `by` is not a field any more: nobody acts for another
    assert (await client.post(url, headers=as_person(org.owner_id))).status_code == 201


async def test_signing_in_out_and_the_pages_in_between(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _person(sessions, "sue.signin@acme.example")
    away = await browser.get("/measures/7?view=all")
    assert away.status_code == 303
    assert away.headers["location"] == "/sign-in?next=/measures/7%3Fview%3Dall"

    wrong = await sign_in(browser, "sue.signin@acme.example", "not her password")
    assert wrong.status_code == 401 and "The email or the password is wrong." in wrong.text
    assert 'value="sue.signin@acme.example"' in wrong.text  # what she typed is kept

    right = await sign_in(browser, "sue.signin@acme.example", READER_PASSWORD)
    assert right.status_code == 303 and right.headers["location"] == "/measures"
    cookie = right.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Secure" in cookie
    page = await browser.get("/measures")
    assert page.status_code == 200 and "Sue.Signin" in page.text

    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    out = await browser.post("/sign-out", data={"csrf": csrf})
    assert out.status_code == 303
    browser.cookies.set(SESSION_COOKIE, cookie.split(";")[0].split("=", 1)[1])
    assert (await browser.get("/measures")).status_code == 303  # the old cookie is dead


async def test_a_browser_session_ends_when_it_expires_or_its_person_is_deactivated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ada = await _person(sessions, "ada.expiry@acme.example")
    bob = await _person(sessions, "bob.deactivated@acme.example")
    ada_token = await accounts.start_session(sessions, ada)
    bob_token = await accounts.start_session(sessions, bob)
    async with sessions() as session:
        assert (await accounts.session_person(session, ada_token)) == ada
        assert (await accounts.session_person(session, bob_token)) == bob

    async with transaction(sessions) as session:
        await session.exec(
            update(WebSession)
            .where(col(WebSession.person_id) == ada.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.exec(update(Person).where(col(Person.id) == bob.id).values(active=False))

    async with sessions() as session:
        assert await accounts.session_person(session, ada_token) is None
        assert await accounts.session_person(session, bob_token) is None
        assert await accounts.session_person(session, "no-such-session") is None


async def test_a_session_change_needs_its_csrf_value_and_our_origin(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _person(sessions, "cathy.cookie@acme.example")
    await sign_in(browser, "cathy.cookie@acme.example", READER_PASSWORD)
    page = await browser.get("/measures")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]

    bare = await browser.post("/api/tokens", json={"name": "x"})
    foreign = await browser.post(
        "/api/tokens",
        json={"name": "x"},
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    ours = await browser.post(
        "/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf, "Origin": PUBLIC}
    )

    assert [bare.status_code, foreign.status_code, ours.status_code] == [403, 403, 201]


async def test_sign_in_refuses_foreign_next_targets_and_repeated_guessing(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _person(sessions, "nina.next@acme.example")
    page = await browser.get("/sign-in", params={"next": "https://evil.example/steal"})
    assert 'name="next" value="/measures"' in page.text

    for _ in range(settings.link_failures_per_minute):
        assert (await sign_in(browser, "nina.next@acme.example", "guess")).status_code == 401
    blocked = await sign_in(browser, "nina.next@acme.example", READER_PASSWORD)
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text


async def test_admins_manage_people_and_a_deactivated_person_is_out_at_once(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    plain = await _person(sessions, "pete.plain@acme.example")
    pete = {"Authorization": f"Bearer {await give_api_token(sessions, plain)}"}

    refused = await client.post(
        "/api/people", json={"email": "x@acme.example", "name": "X"}, headers=pete
    )
    created = await client.post(
        "/api/people",
        json={
            "email": "Rosa.Roe@Acme.example",
            "name": "Rosa Roe",
            "password": "a long passphrase",
        },
    )
    twice = await client.post("/api/people", json={"email": "rosa.roe@acme.example", "name": "R"})
    short = await client.post(
        "/api/people", json={"email": "s@acme.example", "name": "S", "password": "short"}
    )
    assert refused.status_code == 403
    assert created.status_code == 201 and created.json()["email"] == "rosa.roe@acme.example"
    assert twice.status_code == 409
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
    async with sessions() as session:
        rosa = (
            await session.exec(select(Person).where(Person.email == "rosa.roe@acme.example"))
        ).one()
    assert rosa.password_hash is not None and rosa.password_hash.startswith("$argon2id$")

    off = await client.patch(f"/api/people/{plain.id}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await client.get("/api/me", headers=pete)).status_code == 401


async def test_an_admin_cannot_lock_themselves_out(client: httpx.AsyncClient) -> None:
    me = (await client.get("/api/me")).json()
    answer = await client.patch(f"/api/people/{me['id']}", json={"active": False})
    assert answer.status_code == 422 and "cannot deactivate yourself" in answer.text


@pytest.mark.parametrize("path", ["/api/people", "/api/portfolios/1/managers/1"])
async def test_admin_only_resources_refuse_others(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], path: str
) -> None:
    plain = await _person(sessions, f"olga.other.{path.count('/')}@acme.example")
    headers = {"Authorization": f"Bearer {await give_api_token(sessions, plain)}"}
    method = "GET" if path == "/api/people" else "PUT"
    answer = await client.request(method, path, headers=headers, json={})
    assert answer.status_code == 403


def _add_admin(settings: Settings, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "valuegate",
            "add-admin",
            "--email",
            "First.Admin@acme.example",
            "--name",
            "First Admin",
        ],
        input=f"{password}\n",
        capture_output=True,
        text=True,
        env={**os.environ, "VALUEGATE_DATABASE_URL": settings.database_url},
        check=False,
    )


async def test_a_new_installation_gets_its_first_admin_from_the_command_line(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    short = _add_admin(settings, "short")
    added = _add_admin(settings, READER_PASSWORD)
    again = _add_admin(settings, READER_PASSWORD)

    assert short.returncode == 1 and "12 characters" in short.stdout
    assert added.returncode == 0, added.stderr
    assert again.returncode == 1 and "already has the email" in again.stdout
    signed_in = await sign_in(browser, "first.admin@acme.example", READER_PASSWORD)
    assert signed_in.status_code == 303


async def test_a_token_from_the_command_line_acts_as_its_person(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _person(sessions, "sid.script@acme.example")
    command = [sys.executable, "-m", "valuegate", "api-token", "--email", "sid.script@acme.example"]
    env = {**os.environ, "VALUEGATE_DATABASE_URL": settings.database_url}
    printed = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    unknown = subprocess.run(
        [*command[:-1], "nobody@acme.example"], capture_output=True, text=True, env=env
    )

    me = await client.get("/api/me", headers={"Authorization": f"Bearer {printed.stdout.strip()}"})
    assert me.json()["email"] == "sid.script@acme.example"
    assert unknown.returncode == 1 and "no active person" in unknown.stderr
