"""Importing a workbook: real .xlsx files written by openpyxl and by XlsxWriter, a dry run that
writes nothing, an apply that writes everything (audited as `import`, lifecycles started), the
same file twice changing nothing, and every kind of bad input named by sheet, row and column."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import xlsxwriter
from openpyxl import Workbook, load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Settings
from models.audit import AuditEvent
from models.figures import ImpactLine, Milestone, MonthlyValue
from models.import_sheets import FIGURES, HIERARCHY, LINES, MEASURES, MILESTONES, SHEETS
from models.measure import Measure, workflow_id_for
from models.money import Scenario
from models.organization import LegalEntity, Portfolio
from models.people import Person
from services.db import transaction
from tests.factories import Org, add_person, make_org
from tests.link_helpers import sign_in
from tests.support import CapturingSmtp

PASSWORD = "correct horse battery staple"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONTHS = [date(2027, m, 1) for m in range(1, 13)]


def _sheets(
    org: Org, *, amount: Any = 10000, extra: dict[str, list[list[Any]]] | None = None
) -> dict[str, list[list[Any]]]:
    """The rows of a small programme: one new package, two measures, their lines, a year of
    plan for the first, and a milestone."""
    people = [
        "olivia.owner@acme.example",
        "sam.sponsor@acme.example",
        "cleo.controller@acme.example",
    ]
    rows: dict[str, list[list[Any]]] = {
        HIERARCHY.name: [["W1", "Cost 2027", "Infra", "Storage", "Wave 1"]],
        MEASURES.name: [
            [
                "EXT-1",
                "Retire the tape library",
                "W1",
                *people,
                "INFRA",
                "AC-DE",
                datetime(2027, 1, 1),
                12,
                250000,
                "FY2026",
                "GL 6100",
                "Tapes go",
            ],
            [
                "EXT-2",
                "Consolidate backups",
                "W1",
                *people,
                "INFRA",
                "AC-DE",
                datetime(2027, 1, 1),
                12,
                None,
                None,
                None,
                None,
            ],
        ],
        LINES.name: [
            ["EXT-1", "licences", "cost_reduction", "Tape licences", 120000],
            ["EXT-2", "storage", "cost_reduction", "Backup storage", None],
        ],
        FIGURES.name: [
            ["EXT-1", "licences", "plan", datetime(m.year, m.month, 15), amount] for m in MONTHS
        ],
        MILESTONES.name: [["EXT-1", "Tapes shipped out", datetime(2027, 3, 31), None, None]],
    }
    for sheet, more in (extra or {}).items():
        rows[sheet] = rows.get(sheet, []) + more
    return rows


def _openpyxl_file(rows: dict[str, list[list[Any]]]) -> bytes:
    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    for sheet in SHEETS:
        page = book.create_sheet(sheet.name)
        page.append(sheet.headers)
        for row in rows.get(sheet.name, []):
            page.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsxwriter_file(rows: dict[str, list[list[Any]]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    dates = book.add_format({"num_format": "dd.mm.yyyy"})
    for sheet in SHEETS:
        page = book.add_worksheet(sheet.name)
        page.write_row(0, 0, sheet.headers)
        for r, row in enumerate(rows.get(sheet.name, []), start=1):
            for c, value in enumerate(row):
                if isinstance(value, datetime):
                    page.write_datetime(r, c, value, dates)
                elif value is not None:
                    page.write(r, c, value)
    book.close()
    return out.getvalue()


async def _upload(
    http: httpx.AsyncClient, org_id: int, content: bytes, apply: bool = False
) -> httpx.Response:
    return await http.post(
        "/api/imports",
        params={"organization_id": org_id, "apply": str(apply).lower()},
        files={"file": ("programme.xlsx", content, XLSX)},
    )


async def _organization_of(sessions: async_sessionmaker[AsyncSession], org: Org) -> int:
    async with sessions() as session:
        portfolio = await session.get(Portfolio, org.portfolio_id)
        assert portfolio is not None
        return portfolio.organization_id


async def _count(sessions: async_sessionmaker[AsyncSession], table: Any, *where: Any) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(table).where(*where))).one()


async def test_a_dry_run_writes_nothing_and_apply_writes_it_all_once(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    smtp: CapturingSmtp,
    worker: object,
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    content = _openpyxl_file(_sheets(org))
    trail = await _count(sessions, AuditEvent)

    dry = await _upload(client, organization, content)

    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["applied"] is False and report["problems"] == []
    assert report["counts"][MEASURES.name] == {"created": 2}
    assert report["counts"][FIGURES.name] == {"changed": 12}
    assert await _count(sessions, Measure) == 0
    assert await _count(sessions, AuditEvent) == trail

    applied = await _upload(client, organization, content, apply=True)

    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True
    async with sessions() as session:
        made = (await session.exec(select(Measure).order_by(col(Measure.id)))).all()
        plan = (
            await session.exec(
                select(func.sum(MonthlyValue.amount)).where(MonthlyValue.scenario == Scenario.PLAN)
            )
        ).one()
        channels = set(
            (await session.exec(select(AuditEvent.channel).where(AuditEvent.id > trail))).all()
        )
    assert [(m.external_id, m.title) for m in made] == [
        ("EXT-1", "Retire the tape library"),
        ("EXT-2", "Consolidate backups"),
    ]
    assert made[0].baseline_amount == Decimal("250000") and made[0].plan_start == date(2027, 1, 1)
    assert plan == Decimal("120000")
    # Every change the file made is the import's; the started lifecycles then write their own.
    assert "import" in {c.value for c in channels}
    assert {c.value for c in channels} <= {"import", "workflow"}
    assert await _count(sessions, Milestone) == 1
    for measure in made:
        handle = temporal_env.client.get_workflow_handle(workflow_id_for(measure.id or 0))
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING

    changes = AuditEvent.action != "email.sent"  # the new measures' greetings go out meanwhile
    events = await _count(sessions, AuditEvent, changes)
    again = await _upload(client, organization, content, apply=True)
    assert again.status_code == 200
    counts = again.json()["counts"]
    assert counts[MEASURES.name] == {"unchanged": 2} and counts[FIGURES.name] == {"unchanged": 12}
    assert await _count(sessions, AuditEvent, changes) == events  # the same file changed nothing
    assert await _count(sessions, Measure) == 2

    # A changed file changes exactly what changed: one month's plan.
    edited = _sheets(org)
    edited[FIGURES.name][2][4] = 12500
    changed = await _upload(client, organization, _openpyxl_file(edited), apply=True)
    assert changed.json()["counts"][FIGURES.name] == {"changed": 12}
    async with sessions() as session:
        newest = (
            await session.exec(
                select(AuditEvent).where(changes).order_by(col(AuditEvent.id).desc()).limit(1)
            )
        ).one()
    assert await _count(sessions, AuditEvent, changes) == events + 1
    assert newest.action == "figures.changed" and newest.after is not None
    assert newest.after["values"]["2027-03-01"] == "12500"


async def test_a_file_written_by_xlsxwriter_imports_the_same(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], worker: object
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)

    answer = await _upload(client, organization, _xlsxwriter_file(_sheets(org)), apply=True)

    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] is True
    async with sessions() as session:
        lines = (await session.exec(select(ImpactLine).order_by(col(ImpactLine.id)))).all()
        milestone = (await session.exec(select(Milestone))).one()
    assert [(line.external_id, line.annual_potential) for line in lines] == [
        ("licences", Decimal("120000")),
        ("storage", None),
    ]
    assert milestone.planned_date == date(2027, 3, 31)


async def test_every_bad_cell_is_named_and_nothing_is_written(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], worker: object
) -> None:
    org = await make_org(sessions)
    theirs = await make_org(sessions, tag=".b")
    organization = await _organization_of(sessions, org)
    rows = _sheets(org)
    rows[FIGURES.name][0][4] = "1.234,56"  # a German decimal comma
    rows[FIGURES.name][1][4] = "1e400"
    rows[FIGURES.name][2][4] = "NaN"
    rows[FIGURES.name][3][4] = 10.123  # three decimals in euro
    rows[FIGURES.name][4][3] = "2027-05-01"  # a date as text
    rows[FIGURES.name][5][3] = datetime(2029, 1, 1)  # outside the plan horizon
    rows[FIGURES.name][6][2] = "verified"
    rows[MEASURES.name][1][3] = "nobody@acme.example"
    rows[MEASURES.name][1][7] = "AC-DE-B"  # unknown here (the other organization has "AC-DE")
    rows[MEASURES.name].append(list(rows[MEASURES.name][0]))  # EXT-1 twice
    del theirs
    trail = await _count(sessions, AuditEvent)

    answer = await _upload(client, organization, _openpyxl_file(rows), apply=True)

    assert answer.status_code == 422
    found = {(p["sheet"], p["row"], p["column"]): p for p in answer.json()["problems"]}
    figures, measures = FIGURES.name, MEASURES.name
    expected = {
        (figures, 2, "Amount"): "decimal point",
        (figures, 3, "Amount"): "smaller than",
        (figures, 4, "Amount"): "finite",
        (figures, 5, "Amount"): "at most 2 decimal places",
        (figures, 6, "Month"): "date cell",
        (figures, 8, "Scenario"): "never imported",
        (measures, 3, "Owner email"): "no active person",
        (measures, 3, "Legal entity"): "in this organization",
        (measures, 4, "External id"): "row 2",
    }
    for where, words in expected.items():
        assert where in found, (where, list(found))
        assert words in found[where]["message"], found[where]
    assert found[(figures, 2, "Amount")]["value"] == "1.234,56"
    outside = [p for p in answer.json()["problems"] if "outside the plan horizon" in p["message"]]
    assert outside and outside[0]["value"] == "2029-01-01"
    assert await _count(sessions, Measure) == 0
    assert await _count(sessions, AuditEvent) == trail


async def test_files_that_are_not_workbooks_are_refused_with_a_reason(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    engine: AsyncEngine,
    temporal_env: WorkflowEnvironment,
    worker: object,
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 50_000_000)
    formula = Workbook()
    assert formula.active is not None
    formula.active.title = MEASURES.name
    formula.active.append(MEASURES.headers)
    formula.active.append(["EXT-1", '=CONCAT("a","b")', "W1"])
    merged = Workbook()
    assert merged.active is not None
    merged.active.title = MEASURES.name
    merged.active.append(MEASURES.headers)
    merged.active.merge_cells("A2:B2")
    files = {
        "not a workbook": (b"external id;title\nEXT-1;x\n", "not an .xlsx"),
        "encrypted": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "encrypted"),
        "zip bomb": (bomb.getvalue(), "unpacks to"),
        "corrupt": (_openpyxl_file(_sheets(org))[:-200], "not an .xlsx"),
        "formula": (_saved(formula), "formula without a saved value"),
        "merged": (_saved(merged), "merged cells"),
    }
    small = settings.model_copy(update={"import_max_unpacked_bytes": 10_000_000})
    app = create_app(small, engine=engine, temporal=temporal_env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": client.headers["Authorization"]},
    ) as http:  # fmt: skip
        for name, (content, words) in files.items():
            answer = await _upload(http, organization, content)
            assert answer.status_code in (200, 422), (name, answer.text)
            messages = " ".join(p["message"] for p in answer.json()["problems"])
            assert words in messages, (name, messages)
            assert answer.json()["applied"] is False
    assert await _count(sessions, Measure) == 0

    tiny = settings.model_copy(update={"import_max_bytes": 2048})
    app = create_app(tiny, engine=engine, temporal=temporal_env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": client.headers["Authorization"]},
    ) as http:  # fmt: skip
        too_big = await _upload(http, organization, _openpyxl_file(_sheets(org)))
    assert too_big.status_code == 413


def _saved(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_the_template_has_its_lists_frozen_headers_and_formats(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)

    answer = await client.get(f"/api/organizations/{organization}/import-template")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Instructions", *[s.name for s in SHEETS]]
    measures = book[MEASURES.name]
    assert [c.value for c in measures[1]] == MEASURES.headers
    assert measures.freeze_panes == "A2"
    lists = {v.formula1 for v in book[LINES.name].data_validations.dataValidation}
    assert '"cost_reduction,revenue_increase,one_time_cost,capex"' in lists
    units = {v.formula1 for v in measures.data_validations.dataValidation}
    assert '"INFRA"' in units and '"AC-DE"' in units
    # Rows a person adds: dates as dates, money in the organization's one currency.
    assert measures.column_dimensions["I"].number_format == "yyyy-mm-dd"
    assert '"EUR"' in measures.column_dimensions["K"].number_format
    assert '"EUR"' in book[FIGURES.name].column_dimensions["E"].number_format


async def test_a_prefilled_template_writes_each_amount_in_its_own_currency(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], worker: object
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    async with transaction(sessions) as session:
        session.add(
            LegalEntity(organization_id=organization, code="AC-US", name="Acme Inc", currency="USD")
        )
    rows = _sheets(org)
    rows[MEASURES.name][1][7] = "AC-US"
    rows[FIGURES.name].append(["EXT-2", "storage", "plan", datetime(2027, 1, 1), 500])
    assert (await _upload(client, organization, _openpyxl_file(rows), apply=True)).json()["applied"]

    answer = await client.get(
        f"/api/organizations/{organization}/import-template", params={"prefill": "true"}
    )

    figures = load_workbook(io.BytesIO(answer.content))[FIGURES.name]
    formats = {(row[0].value, row[4].number_format) for row in figures.iter_rows(min_row=2)}
    assert {(ext, fmt.rsplit(" ", 1)[1]) for ext, fmt in formats} == {
        ("EXT-1", '"EUR"'),
        ("EXT-2", '"USD"'),
    }
    # Two currencies: a new row's amount is a plain number until its legal entity says which.
    assert figures.column_dimensions["E"].number_format == "#,##0.00"


async def test_the_demo_goes_out_to_excel_and_back_unchanged(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], worker: object
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    assert (await _upload(client, organization, _openpyxl_file(_sheets(org)), apply=True)).json()[
        "applied"
    ]

    exported = await client.get(
        f"/api/organizations/{organization}/import-template", params={"prefill": "true"}
    )
    book = load_workbook(io.BytesIO(exported.content))
    plan = [row for row in book[FIGURES.name].iter_rows(min_row=2, values_only=True)]
    assert len(plan) == 12 and plan[0][4] == 10000
    back = await _upload(client, organization, exported.content, apply=True)

    assert back.status_code == 200, back.text
    counts = back.json()["counts"]
    assert set(counts[MEASURES.name]) == {"unchanged"}
    assert set(counts[FIGURES.name]) == {"unchanged"}
    assert set(counts[MILESTONES.name]) == {"unchanged"}
    assert back.json()["changed_measures"] == []  # no lifecycle is told anything changed


async def test_the_import_page_checks_then_applies(
    browser: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], worker: object
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    await add_person(
        sessions,
        email="ada.admin@acme.example",
        name="Ada Admin",
        password=PASSWORD,
        admin=True,
    )
    await sign_in(browser, "ada.admin@acme.example", PASSWORD)
    page = await browser.get("/imports")
    marker = 'name="csrf" value="'
    csrf = page.text[page.text.index(marker) + len(marker) :].split('"', 1)[0]
    bad = _sheets(org)
    bad[FIGURES.name][0][4] = "1.234,56"

    def post(content: bytes, mode: str) -> Any:
        return browser.post(
            "/imports",
            data={"csrf": csrf, "organization_id": str(organization), "mode": mode},
            files={"file": ("programme.xlsx", content, XLSX)},
        )

    refused = await post(_openpyxl_file(bad), "apply")
    assert refused.status_code == 422
    assert "1 problem: nothing was written" in refused.text and "1.234,56" in refused.text
    checked = await post(_openpyxl_file(_sheets(org)), "dry_run")
    assert "ready to apply" in checked.text
    applied = await post(_openpyxl_file(_sheets(org)), "apply")
    assert applied.status_code == 200 and "Imported" in applied.text
    listed = await browser.get("/measures")
    assert "Retire the tape library" in listed.text


async def test_the_command_line_checks_a_file_and_says_what_is_wrong(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    async with transaction(sessions) as session:
        session.add(Person(email="ida.importer@acme.example", name="Ida Importer", is_admin=True))
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(_openpyxl_file(_sheets(org)))
    wrong = _sheets(org)
    wrong[FIGURES.name][0][4] = "1.234,56"
    bad.write_bytes(_openpyxl_file(wrong))
    env = {**os.environ, "VALUEGATE_DATABASE_URL": settings.database_url}

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        ida = "ida.importer@acme.example"
        command = [sys.executable, "-m", "valuegate", "import", str(path), "--dry-run",
                   "--organization", str(organization), "--as", ida]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, env=env)

    checked, refused = run(good), run(bad)

    assert checked.returncode == 0, checked.stderr
    assert "Measures: 2 created" in checked.stdout and "ready to apply" in checked.stdout
    assert refused.returncode == 1
    assert "Monthly figures row 2, Amount (1.234,56): write amounts with a decimal point" in (
        refused.stdout
    )
    assert await _count(sessions, Measure) == 0


async def test_the_file_comes_back_with_its_problems_marked_on_their_cells(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], worker: object
) -> None:
    org = await make_org(sessions)
    organization = await _organization_of(sessions, org)
    rows = _sheets(org)
    rows[FIGURES.name][0][4] = "1.234,56"

    answer = await client.post(
        "/api/imports/marked",
        params={"organization_id": organization},
        files={"file": ("programme.xlsx", _openpyxl_file(rows), XLSX)},
    )

    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames[0] == "Problems"
    listed = list(book["Problems"].iter_rows(min_row=2, values_only=True))
    assert listed == [(FIGURES.name, 2, "Amount", "1.234,56", listed[0][4])]
    cell = book[FIGURES.name]["E2"]
    assert cell.comment is not None and "decimal point" in cell.comment.text
    assert cell.fill.fgColor.rgb == "FFF4C7C3"
    assert await _count(sessions, Measure) == 0


async def test_a_broken_upload_is_a_422_not_a_400(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/api/imports",
        params={"organization_id": 1},
        content=b"--x\r\nnot a part--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body"]
