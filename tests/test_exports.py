"""Views out to a spreadsheet: the measure list keeps its filters and writes money as numbers in
the currency's format and dates as dates; a measure's figures by month; CSV alike."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import httpx
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.organization import Portfolio
from models.stages import Stage
from tests.factories import as_person, complete_measure, make_org, measure_payload

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_the_measure_list_goes_to_excel_with_its_filters_and_real_numbers(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    planned = await complete_measure(sessions, org, title="Retire the tape library")
    await complete_measure(sessions, org, stage=Stage.IDENTIFIED, title="Move backups")
    await client.post("/api/measures", json=measure_payload(org, title="Other SAN work"))

    answer = await client.get("/api/exports/measures.xlsx", params={"stage": "defined", "q": "e"})

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "Filters: q = e; stage = ['defined']"
    assert rows[2][0] == "2 measures"
    header = rows[4]
    assert header[0] == "Code" and header[5].startswith("Planned value")
    by_code = {row[0]: row for row in rows[5:]}
    assert set(by_code) == {f"M-{planned}", f"M-{planned + 2}"}
    tape = by_code[f"M-{planned}"]
    assert tape[5] == 120000 and isinstance(tape[11], datetime)
    money_cell = sheet.cell(row=6, column=6)
    assert '"EUR"' in money_cell.number_format

    as_csv = await client.get("/api/exports/measures.csv", params={"stage": "defined", "q": "e"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(as_csv.text)))
    assert table[0][0] == "Code" and len(table) == 3
    assert [row[5] for row in table[1:]].count("120000.00") == 1

    # People export what they may see, as everywhere: another organization's sponsor, nothing.
    theirs = await make_org(sessions, tag=".b")
    mine = await client.get("/api/exports/measures.csv", headers=as_person(theirs.sponsor_id))
    assert len(list(csv.reader(io.StringIO(mine.text)))) == 1  # the header alone
    wrong = await client.get("/api/exports/measures.xlsx", params={"colour": "red"})
    assert wrong.status_code == 422


async def test_a_measures_figures_go_to_excel_by_month(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    measure_id = await complete_measure(sessions, org)

    answer = await client.get(f"/api/exports/measures/{measure_id}/figures.xlsx")

    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[3]
    assert header[:4] == ("Impact line", "Category", "Scenario", "2027-01")
    plan = next(row for row in rows[4:] if row[2] == "plan")
    assert plan[3] == 10000 and plan[-1] == 120000
    assert (await client.get("/api/exports/measures/999999/figures.csv")).status_code == 404


async def test_text_with_control_characters_still_exports(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    made = await client.post("/api/measures", json=measure_payload(org, title="Tape\x01 library"))
    assert made.status_code == 201, made.text

    listing = await client.get("/api/exports/measures.xlsx")
    async with sessions() as session:
        portfolio = await session.get(Portfolio, org.portfolio_id)
    assert portfolio is not None
    template = await client.get(
        f"/api/organizations/{portfolio.organization_id}/import-template",
        params={"prefill": "true"},
    )

    sheet = load_workbook(io.BytesIO(listing.content)).active
    assert sheet is not None
    titles = [row[1] for row in sheet.iter_rows(min_row=6, values_only=True)]
    assert titles == ["Tape\ufffd library"]
    assert template.status_code == 200
    prefilled = load_workbook(io.BytesIO(template.content))["Measures"]
    assert prefilled["B2"].value == "Tape\ufffd library"


async def test_the_dashboard_goes_to_excel_a_sheet_per_view_and_to_csv_a_view_a_file(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    await complete_measure(sessions, org, title="Retire the tape library")
    await complete_measure(sessions, org, stage=Stage.IDENTIFIED, title="Move backups")
    async with sessions() as session:
        portfolio = await session.get(Portfolio, org.portfolio_id)
        assert portfolio is not None
    chosen = {"organization_id": portfolio.organization_id, "portfolio_id": org.portfolio_id}

    answer = await client.get("/api/exports/dashboard.xlsx", params=chosen)

    assert answer.status_code == 200, answer.text
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Totals", "Pipeline", "Status matrix", "By month"]
    totals = list(book["Totals"].iter_rows(values_only=True))
    assert totals[0][0] == "ValueGate: dashboard of Acme IT"
    assert totals[1][0] == f"Filters: portfolio_id = {org.portfolio_id}"
    header = totals[4]
    assert header[0] == "Measures" and header[1] == "Plan over the horizon (EBITDA effect, EUR)"
    assert totals[5][0] == 2 and totals[5][1] == 240000
    assert '"EUR"' in book["Totals"].cell(row=6, column=2).number_format
    pipeline = {row[0]: row for row in book["Pipeline"].iter_rows(min_row=6, values_only=True)}
    assert pipeline["Defined"][1:] == (1, 120000) and pipeline["Identified"][1:] == (1, 120000)
    months = list(book["By month"].iter_rows(min_row=6, values_only=True))
    assert isinstance(months[0][0], datetime) and sum(row[1] for row in months) == 240000

    as_csv = await client.get("/api/exports/dashboard.csv", params={**chosen, "view": "pipeline"})
    table = list(csv.reader(io.StringIO(as_csv.text)))
    assert table[0] == ["Stage", "Measures", "Plan over the horizon (EBITDA effect, EUR)"]
    assert ["Defined", "1", "120000.00"] in table
    unknown = await client.get("/api/exports/dashboard.csv", params={"view": "everything"})
    assert unknown.status_code == 422


async def test_a_hierarchy_roll_up_goes_to_excel_and_csv_node_first_then_children(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    await complete_measure(sessions, org, title="Retire the tape library")

    answer = await client.get(f"/api/exports/portfolio/{org.portfolio_id}/rollup.xlsx")

    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "ValueGate: portfolio Acme IT > Cost 2027"
    assert rows[3][:4] == ("Level", "Name", "Measures", "Plan over the horizon (EBITDA effect)")
    assert rows[4][:4] == ("portfolio (all)", "Cost 2027", 1, 120000)
    assert rows[5][:4] == ("program", "Data centre", 1, 120000)
    assert '"EUR"' in sheet.cell(row=5, column=4).number_format

    program = (await client.get(f"/api/programs?parent_id={org.portfolio_id}")).json()[0]["id"]
    as_csv = await client.get(f"/api/exports/program/{program}/rollup.csv")
    table = list(csv.reader(io.StringIO(as_csv.text)))
    assert table[1][:4] == ["program (all)", "Data centre", "1", "120000.00"]
    assert table[2][:4] == ["project", "Storage", "1", "120000.00"]
    theirs = await make_org(sessions, tag=".b")
    hidden = await client.get(
        f"/api/exports/portfolio/{org.portfolio_id}/rollup.csv",
        headers=as_person(theirs.sponsor_id),
    )
    assert hidden.status_code == 404
