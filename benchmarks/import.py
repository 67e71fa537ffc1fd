"""The Excel import at a real programme's size: a generated workbook of 10,000 measures, one
impact line each, 24 months of plan and forecast (480,000 monthly values), checked (dry run) and
applied through the importer, on SQLite or PostgreSQL.

Baseline, in the same process: reading the same workbook's cells with python-calamine, the
reader the import uses (what any import must do at least). Prints rows per second, wall time,
the ratio to the baseline and the peak resident memory of the process that ran the import (each
run has a process of its own, as a worker takes one file at a time). Targets on this
machine: apply under 60 s, peak memory under 500 MB.

    .venv/bin/python -m benchmarks.import
    .venv/bin/python -m benchmarks.import --measures 1000
    .venv/bin/python -m benchmarks.import --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from io import BytesIO
from pathlib import Path

import psycopg
import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy.engine import make_url

from models.import_sheets import FIGURES, HIERARCHY, LINES, MEASURES, MILESTONES
from models.organization import BusinessUnit, LegalEntity, Organization
from models.people import Person
from services import importer, migrate, workbooks
from services.db import create_engine, session_factory, transaction

MONTHS = [datetime(2027 + m // 12, m % 12 + 1, 1) for m in range(24)]
PEOPLE = ["owner", "sponsor", "controller"]


def workbook(measures: int, path: Path) -> bytes:
    """The programme as an .xlsx file (XlsxWriter, dates as date cells), written row by row so
    that making it costs the benchmark's memory nothing."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(path.parent)})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheets = {s.name: book.add_worksheet(s.name) for s in (HIERARCHY, MEASURES, LINES, FIGURES)}
    book.add_worksheet(MILESTONES.name).write_row(0, 0, MILESTONES.headers)
    for sheet in (HIERARCHY, MEASURES, LINES, FIGURES):
        sheets[sheet.name].write_row(0, 0, sheet.headers)
    packages = max(1, measures // 100)
    for p in range(packages):
        row = [f"P{p}", "Cost 2027", f"Program {p // 10}", f"Project {p}", "Wave 1"]
        sheets[HIERARCHY.name].write_row(p + 1, 0, row)
    emails = [f"{who}@bench.example" for who in PEOPLE]
    measure_sheet, figures = sheets[MEASURES.name], sheets[FIGURES.name]
    at = 1
    for m in range(measures):
        ext = f"B-{m}"
        measure_sheet.write_row(m + 1, 0, [ext, f"Saving {m}", f"P{m % packages}", *emails])
        measure_sheet.write_row(m + 1, 6, ["OPS", "LE-DE"])
        measure_sheet.write_datetime(m + 1, 8, MONTHS[0], day)
        measure_sheet.write_row(m + 1, 9, [24, 100000 + m, "FY2026", "GL"])
        line = [ext, "L1", "cost_reduction", "Licences", 12000 + m % 500]
        sheets[LINES.name].write_row(m + 1, 0, line)
        for month in MONTHS:
            for scenario, amount in (("plan", 1000 + m % 97), ("forecast", 950 + m % 89)):
                figures.write_row(at, 0, [ext, "L1", scenario])
                figures.write_datetime(at, 3, month, day)
                figures.write_number(at, 4, amount)
                at += 1
    book.close()
    return path.read_bytes()


async def prepare(url: str) -> tuple[int, Person]:
    migrate.upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        organization = Organization(name="Bench", group_currency="EUR")
        session.add(organization)
        await session.flush()
        session.add(BusinessUnit(organization_id=organization.id or 0, code="OPS", name="Ops"))
        session.add(
            LegalEntity(
                organization_id=organization.id or 0,
                code="LE-DE",
                name="Bench GmbH",
                currency="EUR",
            )
        )
        for who in PEOPLE:
            session.add(Person(email=f"{who}@bench.example", name=who.title()))
        admin = Person(email="admin@bench.example", name="Admin", is_admin=True)
        session.add(admin)
    await engine.dispose()
    return organization.id or 0, admin


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vg-import-bench-"))
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    if url.startswith("postgresql"):
        fresh = make_url(url).set(database="valuegate_import_bench")
        with psycopg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(False), autocommit=True
        ) as admin_db:
            admin_db.execute("DROP DATABASE IF EXISTS valuegate_import_bench")
            admin_db.execute("CREATE DATABASE valuegate_import_bench")
        url = fresh.render_as_string(hide_password=False)
    organization_id, admin = await prepare(url)

    started = time.perf_counter()
    content = workbook(args.measures, folder / "programme.xlsx")
    print(f"generated {len(content) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    book = CalamineWorkbook.from_filelike(BytesIO(content))
    sheets = [book.get_sheet_by_name(name) for name in book.sheet_names]
    cells = sum(len(row) for sheet in sheets for row in sheet.iter_rows())
    baseline = time.perf_counter() - started
    del book, sheets
    print(f"baseline: python-calamine reads {cells:,} cells in {baseline:.1f} s")

    path = folder / "programme.xlsx"
    del content
    # Each run in a process of its own, as a worker takes one file at a time: its peak memory
    # is the import's, not what an earlier run left behind.
    spawn = multiprocessing.get_context("spawn")
    for apply in (False, True):
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            rows, wall, peak = child.submit(
                run, url, organization_id, admin.id, path, apply
            ).result()
        what = "apply" if apply else "dry run"
        print(
            f"{what}: {rows:,} rows in {wall:.1f} s = {rows / wall:,.0f} rows/s; "
            f"{wall / baseline:.1f}x the baseline; peak memory {peak:,.0f} MB"
            + ("; target: under 60 s, under 500 MB" if apply else "")
        )


def run(
    url: str, organization_id: int, admin_id: int, path: Path, apply: bool
) -> tuple[int, float, float]:
    """One import of the file (in a child process): rows, wall seconds, peak memory in MB."""
    return asyncio.run(_run(url, organization_id, admin_id, path, apply))


async def _run(
    url: str, organization_id: int, admin_id: int, path: Path, apply: bool
) -> tuple[int, float, float]:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            admin = await session.get(Person, admin_id)
        assert admin is not None
        content = await asyncio.to_thread(path.read_bytes)
        started = time.perf_counter()
        rows = await asyncio.to_thread(workbooks.read, content, max_uncompressed=2**31)
        report = await importer.run(
            sessions, organization_id=organization_id, rows=rows, person=admin, apply=apply
        )
        wall = time.perf_counter() - started
        assert not report.problems, report.problems[:5]
        return report.rows, wall, peak_mb()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
