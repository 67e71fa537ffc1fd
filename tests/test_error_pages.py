"""People get pages, scripts get JSON: every refusal on a page route is an HTML page in the
app's layout with a plain sentence; under /api it stays the documented JSON."""

from __future__ import annotations

import httpx
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.factories import add_person
from tests.link_helpers import sign_in

PASSWORD = "a long enough password"


def _page(response: httpx.Response) -> tuple[str, str]:
    assert response.headers["content-type"].startswith("text/html"), response.text
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find("nav") is not None  # the app's layout, with its menu
    heading = soup.find("h1")
    return (heading.get_text() if heading else ""), soup.get_text(" ", strip=True)


async def test_a_missing_page_is_a_page(reader: httpx.AsyncClient) -> None:
    for path in ("/measures/999999", "/measures/not-a-number", "/nowhere", "/hierarchy/galaxy/1"):
        answer = await reader.get(path)
        assert answer.status_code == 404, path
        title, _ = _page(answer)
        assert title == "This page does not exist", path


async def test_a_forbidden_page_says_why_in_a_sentence(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    person = await add_person(
        sessions, email="nora.normal@acme.example", name="Nora Normal", password=PASSWORD
    )
    await sign_in(browser, person.email, PASSWORD)

    answer = await browser.get("/admin")

    assert answer.status_code == 403
    title, text = _page(answer)
    assert title == "You may not do this"
    assert "Only an admin may open the admin pages." in text
    assert '{"detail"' not in answer.text


async def test_a_post_to_a_malformed_page_address_is_a_page(reader: httpx.AsyncClient) -> None:
    answer = await reader.post("/measures/1/lines/not-a-number/figures", data={"csrf": "x"})

    assert answer.status_code == 404
    _page(answer)


async def test_scripts_keep_their_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/measures/999999")
    unknown = await client.get("/api/nowhere")
    malformed = await client.get("/api/measures/not-a-number")

    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/json")
    assert missing.json() == {"detail": "measure 999999 not found"}
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "measure_id"]
