"""The hierarchy browser and the dashboard pages, read as a person sees them."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import httpx
from bs4 import BeautifulSoup
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.measure import Measure
from models.people import Person
from models.stages import Stage
from services import accounts
from services.db import transaction
from tests.conftest import READER_PASSWORD
from tests.link_helpers import sign_in
from tests.rollup_data import FEB, JAN, Figures, Tree, add_measure, make_tree


def _page(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def _rows(soup: BeautifulSoup) -> list[list[str]]:
    table = soup.select_one("table.grid")
    assert table is not None
    return [
        [cell.get_text(" ", strip=True) for cell in row.find_all("td")]
        for row in table.select("tbody tr")
    ]


def _kpis(soup: BeautifulSoup) -> dict[str, str]:
    return {
        box.dt.get_text(strip=True): box.dd.get_text(" ", strip=True)
        for box in soup.select(".kpis div")
        if box.dt and box.dd
    }


async def _portfolio(sessions: async_sessionmaker[AsyncSession]) -> tuple[Tree, int]:
    tree = await make_tree(sessions, usd_rate="0.5")
    today = date.today()
    on_plan = await add_measure(
        sessions,
        tree,
        Figures(
            plan={JAN: "1000", FEB: "1000"},
            forecast={JAN: "1000", FEB: "1000"},
            verified={JAN: "1000"},
        ),
        title="Retire the mainframe",
        today=today,
    )
    await add_measure(
        sessions,
        tree,
        Figures(plan={JAN: "2000"}, forecast={JAN: "1000"}, overdue_days=40, stage=Stage.DECIDED),
        currency="USD",
        program="B",
        title="Renegotiate licences",
        today=today,
    )
    return tree, on_plan


async def test_the_hierarchy_browser_rolls_up_each_level(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree, on_plan = await _portfolio(sessions)

    roots = _page(await reader.get("/hierarchy"))
    link = roots.find("a", string="Rollup Corp")
    assert link is not None and link["href"] == f"/hierarchy/organization/{tree.organization_id}"

    portfolio = _page(await reader.get(f"/hierarchy/portfolio/{tree.portfolio_id}"))
    assert portfolio.h1 is not None and "Savings 2027" in portfolio.h1.get_text()
    crumbs = portfolio.select_one("nav.crumbs")
    assert crumbs is not None and "Rollup Corp" in crumbs.get_text()
    kpis = _kpis(portfolio)
    assert kpis["Measures"] == "2"
    assert kpis["Planned EBITDA effect"] == "€3,000.00"  # 2,000 + USD 2,000 at 0.5
    assert kpis["Actual, else forecast"] == "€2,500.00"
    assert kpis["Verified"] == "€1,000.00"
    assert kpis["Of plan"] == "83.3 %"
    assert kpis["Value"] == "amber"
    why = portfolio.select_one("p.why")
    assert why is not None
    assert "Value amber: 83 % of plan achieved (actual where entered, else forecast), " \
        "below 95 %, at least 80 %." in why.get_text()  # fmt: skip
    rows = _rows(portfolio)
    assert [r[0] for r in rows] == ["Program A", "Program B"]
    assert rows[0][-2:] == ["green", "green"]  # delivery, value
    assert rows[1][-2:] == ["red", "red"]
    assert rows[1][2] == "€1,000.00"
    download = portfolio.find("a", string="Excel")
    assert download is not None
    taken = await reader.get(str(download["href"]))
    assert taken.status_code == 200 and b"Program B" in _sheet_xml(taken.content)

    package = _page(await reader.get(f"/hierarchy/package/{tree.packages['A']}"))
    measure_link = package.find("a", href=f"/measures/{on_plan}")
    assert measure_link is not None and "Retire the mainframe" in measure_link.get_text()
    assert (await reader.get("/hierarchy/program/999999")).status_code == 404
    assert (await reader.get("/hierarchy/galaxy/1")).status_code == 404  # no such page


async def test_the_dashboard_shows_pipeline_matrix_and_chart(
    reader: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree, _ = await _portfolio(sessions)
    url = f"/dashboard?organization_id={tree.organization_id}"

    board = _page(await reader.get(url))
    assert _kpis(board)["Measures"] == "2"
    pipeline = {r[0]: r[1:] for r in _rows(board)}
    assert pipeline["Decided"] == ["1", "€1,000.00"]
    assert pipeline["Implemented"] == ["1", "€2,000.00"]
    cell = board.select_one('[data-cell="red-red"]')
    assert cell is not None and cell.strong is not None and cell.strong.get_text() == "1"
    # A cell leads to its measures: the list, narrowed as the dashboard is.
    behind = cell.select_one("a")
    assert behind is not None
    listed = _page(await reader.get(str(behind["href"])))
    assert [a.get_text() for a in listed.select("tbody a")] == ["Renegotiate licences"]
    lines = {p["class"][1]: p["points"] for p in board.select("svg.chart polyline")}
    assert set(lines) == {"series-plan", "series-achieved", "series-verified"}
    assert all(len(str(points).split()) == 2 for points in lines.values())  # two months
    excel = board.find("a", string="Excel")
    assert excel is not None and f"organization_id={tree.organization_id}" in str(excel["href"])
    assert (await reader.get(str(excel["href"]))).status_code == 200
    selected = board.select_one('select[name="organization_id"] option[selected]')
    assert selected is not None and selected.get_text() == "Rollup Corp"

    narrowed = _page(await reader.get(f"{url}&program_id={tree.programs['B']}"))
    assert _kpis(narrowed)["Measures"] == "1"
    chosen = narrowed.select_one('select[name="program_id"] option[selected]')
    assert chosen is not None and chosen.get_text() == "Program B"
    # The filter form as a browser sends it with "All" chosen everywhere: empty values.
    everything = f"{url}&portfolio_id=&program_id=&business_unit_id=&legal_entity_id="
    assert _kpis(_page(await reader.get(everything)))["Measures"] == "2"


async def test_pages_show_an_owner_only_their_own_measures(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree, on_plan = await _portfolio(sessions)
    async with transaction(sessions) as session:
        owner = Person(
            email="olga.owner@rollup.example",
            name="Olga Owner",
            password_hash=accounts.hash_password(READER_PASSWORD),
        )
        session.add(owner)
        await session.flush()
        measure = await session.get(Measure, on_plan)
        assert measure is not None
        measure.owner_id = owner.id
        session.add(measure)
    assert (await reader_signed_in(browser, owner.email)).status_code == 303

    board = _page(await browser.get("/dashboard"))
    assert _kpis(board)["Measures"] == "1"
    assert _kpis(board)["Planned EBITDA effect"] == "€2,000.00"
    portfolio = _page(await browser.get(f"/hierarchy/portfolio/{tree.portfolio_id}"))
    assert [r[0] for r in _rows(portfolio)] == ["Program A"]
    assert (await browser.get(f"/hierarchy/program/{tree.programs['B']}")).status_code == 404


async def reader_signed_in(browser: httpx.AsyncClient, email: str) -> httpx.Response:
    return await sign_in(browser, email, READER_PASSWORD)


async def test_signed_out_visitors_are_sent_to_sign_in(browser: httpx.AsyncClient) -> None:
    for path in ("/hierarchy", "/dashboard", "/hierarchy/organization/1"):
        answer = await browser.get(path)
        assert answer.status_code in (303, 307), path
        assert "/sign-in" in answer.headers["location"]


def _sheet_xml(content: bytes) -> bytes:
    """The text of a workbook's first sheet and its shared strings."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = [n for n in archive.namelist() if n.endswith(".xml")]
        return b"".join(archive.read(n) for n in names)
