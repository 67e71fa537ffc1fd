"""Latency of the portfolio dashboard, the hierarchy page and the measures list on a large
portfolio in PostgreSQL, next to the bare SQL for the same figures over the same kept totals
(models.totals), run interleaved in the same process on the same data; and, beside them, the
bare full-scan SQL that adds up every monthly value, as the views did before the totals.

Data: 100,000 measures (one organization, 4 portfolios, 20 programs, 100 projects, 1,000
measure packages; 80 % in a EUR legal entity, 20 % in a USD one), each with one impact line of
24 monthly plan and 24 forecast values, 6 months of actuals for a third of them, and two
milestones — about 5.2 million monthly values, loaded with COPY; then the totals are computed
as `valuegate rollup-verify --repair` computes them.

ValueGate: GET /dashboard (organization-wide), GET /hierarchy/portfolio/<id> and GET /measures
filtered to one portfolio's Decided and Implemented measures, sorted by planned value (the first
page of 50), as an admin, through the whole app in this process (routing, session, access rules,
SQL built by the services, currency conversion, template). Bare: hand-written SQL over the
same kept totals (a summary row per measure, a row per package and month) returning the same
sums — per stage, both lights and currency plus per month and currency for the dashboard, per
program, both lights and currency for the hierarchy page, the count and the page of measures for
the list — through the same connection pool. Full scan: the same sums from the monthly values.

    .venv/bin/python -m benchmarks.portfolio                      # loads once, then reuses
    .venv/bin/python -m benchmarks.portfolio --reload --measures 100000 --rounds 30
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import httpx
import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from api.app import create_app
from config.settings import Settings
from models import forecasts
from models.money import STORAGE_SCALE
from models.people import Person
from models.status import AMBER_OVERDUE_DAYS
from services import accounts, migrate, totals
from services.db import create_engine, session_factory, transaction

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/valuegate_bench"
STAGES = ["defined", "identified", "detailed", "decided", "implemented", "closed", "on_hold",
          "cancelled"]  # fmt: skip
ASKED = {stage.value for stage in forecasts.ASKED_IN}
START = date(2027, 1, 1)
MONTHS = [date(2027 + m // 12, m % 12 + 1, 1) for m in range(24)]
ADMIN_EMAIL = "bench.admin@valuegate.example"

# The bare SQL: the same sums the pages show, written by hand. Achieved (actual where entered,
# else forecast) = all actuals + all forecasts - the forecasts of months that have an actual.
SCENARIO_SUMS = """
    sum(CASE WHEN v.scenario = 'plan' THEN v.amount END) AS plan,
    sum(CASE WHEN v.scenario = 'actual' THEN v.amount END) AS actual,
    sum(CASE WHEN v.scenario = 'forecast' THEN v.amount END) AS forecast,
    sum(CASE WHEN v.scenario = 'verified' THEN v.amount END) AS verified
"""
OVERRIDDEN = """
    FROM monthly_value a
    JOIN monthly_value f ON f.impact_line_id = a.impact_line_id AND f.period = a.period
                        AND f.scenario = 'forecast'
    JOIN impact_line l ON l.id = a.impact_line_id
    WHERE a.scenario = 'actual' AND l.category <> 'capex'
"""
PATH = """
    JOIN measure_package pk ON pk.id = m.package_id
    JOIN project pj ON pj.id = pk.project_id
    JOIN program pg ON pg.id = pj.program_id
    JOIN portfolio pf ON pf.id = pg.portfolio_id
    LEFT JOIN legal_entity le ON le.id = m.legal_entity_id
"""
PER_MEASURE = f"""
    WITH s AS (SELECT l.measure_id, {SCENARIO_SUMS}
               FROM monthly_value v JOIN impact_line l ON l.id = v.impact_line_id
               WHERE l.category <> 'capex' GROUP BY l.measure_id),
    o AS (SELECT l.measure_id, sum(f.amount) AS overridden {OVERRIDDEN} GROUP BY l.measure_id)
"""
ACHIEVED = "coalesce(s.actual, 0) + coalesce(s.forecast, 0) - coalesce(o.overridden, 0)"
BARE_BY_STAGE = f"""
    {PER_MEASURE}
    SELECT m.stage, le.currency, count(*), sum(s.plan), sum({ACHIEVED}), sum(s.verified)
    FROM measure m {PATH}
    LEFT JOIN s ON s.measure_id = m.id LEFT JOIN o ON o.measure_id = m.id
    WHERE pf.organization_id = :org
    GROUP BY m.stage, le.currency
"""
BARE_BY_MONTH = f"""
    SELECT v.period, le.currency, {SCENARIO_SUMS}
    FROM monthly_value v JOIN impact_line l ON l.id = v.impact_line_id
    JOIN measure m ON m.id = l.measure_id {PATH}
    WHERE pf.organization_id = :org AND m.stage <> 'cancelled' AND l.category <> 'capex'
    GROUP BY v.period, le.currency
"""
BARE_OVERRIDDEN_BY_MONTH = f"""
    SELECT a.period, le.currency, sum(f.amount)
    FROM monthly_value a
    JOIN monthly_value f ON f.impact_line_id = a.impact_line_id AND f.period = a.period
                        AND f.scenario = 'forecast'
    JOIN impact_line l ON l.id = a.impact_line_id
    JOIN measure m ON m.id = l.measure_id {PATH}
    WHERE a.scenario = 'actual' AND l.category <> 'capex' AND m.stage <> 'cancelled'
      AND pf.organization_id = :org
    GROUP BY a.period, le.currency
"""
BARE_BY_PROGRAM = f"""
    {PER_MEASURE}
    SELECT pg.id, le.currency, count(*), sum(s.plan), sum({ACHIEVED}), sum(s.verified)
    FROM measure m {PATH}
    LEFT JOIN s ON s.measure_id = m.id LEFT JOIN o ON o.measure_id = m.id
    WHERE pf.id = :portfolio AND m.stage <> 'cancelled'
    GROUP BY pg.id, le.currency
"""


# The bare SQL over the kept totals: a summary row per measure (stage, place, EBITDA sums, value
# light, first open milestone) and a row per package, business unit, legal entity and month;
# the delivery light is the day's.
DELIVERY = """
    CASE WHEN s.first_open IS NULL OR s.first_open >= :today THEN 'green'
         WHEN s.first_open >= :amber_since THEN 'amber' ELSE 'red' END
"""
# The value light: the summary's, amber at best while the forecast is unconfirmed.
VALUE = """
    CASE WHEN s.value = 'green' AND s.forecast_confirmed_on < :stale_before THEN 'amber'
         ELSE s.value END
"""
UNCONFIRMED = """
    sum(CASE WHEN s.forecast_confirmed_on < :stale_before AND s.plan > 0 THEN s.plan ELSE 0 END)
"""
SUMMARY_PATH = """
    FROM measure_summary s
    JOIN measure_package pk ON pk.id = s.package_id
    JOIN project pj ON pj.id = pk.project_id
    JOIN program pg ON pg.id = pj.program_id
    JOIN portfolio pf ON pf.id = pg.portfolio_id
    LEFT JOIN legal_entity le ON le.id = s.legal_entity_id
"""
TOTALS_BY_STAGE = f"""
    SELECT s.stage, le.currency, {DELIVERY}, {VALUE}, count(*), sum(s.plan), sum(s.achieved),
           sum(s.verified), {UNCONFIRMED}
    {SUMMARY_PATH}
    WHERE pf.organization_id = :org
    GROUP BY 1, 2, 3, 4
"""
TOTALS_BY_MONTH = """
    SELECT t.period, le.currency, sum(t.plan), sum(t.achieved), sum(t.verified)
    FROM package_month_total t
    JOIN measure_package pk ON pk.id = t.package_id
    JOIN project pj ON pj.id = pk.project_id
    JOIN program pg ON pg.id = pj.program_id
    JOIN portfolio pf ON pf.id = pg.portfolio_id
    LEFT JOIN legal_entity le ON le.id = t.legal_entity_id
    WHERE pf.organization_id = :org
    GROUP BY t.period, le.currency
"""
TOTALS_BY_PROGRAM = f"""
    SELECT pg.id, le.currency, {DELIVERY}, {VALUE}, count(*), sum(s.plan), sum(s.achieved),
           sum(s.verified), {UNCONFIRMED}
    {SUMMARY_PATH}
    WHERE pf.id = :portfolio AND s.stage <> 'cancelled'
    GROUP BY 1, 2, 3, 4
"""
LIST_WHERE = f"""
    FROM measure m {PATH}
    LEFT JOIN fx_rate fx ON fx.organization_id = pf.organization_id AND fx.currency = le.currency
    LEFT JOIN measure_summary s ON s.measure_id = m.id
    WHERE pf.id = :portfolio AND m.stage IN ('decided', 'implemented')
"""
LIST_COUNT = f"SELECT count(*) {LIST_WHERE}"
LIST_PAGE = f"""
    SELECT m.* {LIST_WHERE}
    ORDER BY coalesce(s.plan, 0)::numeric * CASE WHEN le.currency = 'EUR' THEN 10000000000
                                        ELSE fx.rate END DESC NULLS LAST, m.id DESC
    LIMIT 50
"""
LIST_PLANNED = """
    SELECT l.measure_id, sum(v.amount) FROM monthly_value v
    JOIN impact_line l ON l.id = v.impact_line_id
    WHERE v.scenario = 'plan' AND l.category <> 'capex'
    GROUP BY l.measure_id ORDER BY 2 DESC LIMIT 50
"""
MEASURE_LIST = (
    "/measures?portfolio_id=1&stage=decided&stage=implemented&sort=-planned_value&limit=50"
)


def _copy(cursor: psycopg.Cursor, table: str, columns: str, rows: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for i, row in enumerate(rows, 1):
            buffer.write(row)
            if i % 200_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def load(database_url: str, measures: int) -> None:
    """A fresh database with the benchmark's portfolio."""
    server = database_url.rsplit("/", 1)[0] + "/postgres"
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(database_url)
    rng = random.Random(20261126)
    now = "2026-11-26 00:00:00+00"
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        insert = "INSERT INTO {} VALUES ({})"
        fixed = [
            ("organization (id, name, group_currency)", (1, "Bench Group", "EUR")),
            (
                "legal_entity (id, organization_id, code, name, currency)",
                (1, 1, "BG-DE", "Bench GmbH", "EUR"),
            ),
            (
                "legal_entity (id, organization_id, code, name, currency)",
                (2, 1, "BG-US", "Bench Inc.", "USD"),
            ),
            ("business_unit (id, organization_id, code, name)", (1, 1, "OPS", "Operations")),
            ("fx_rate (organization_id, currency, rate, updated_at)", (1, "USD", 92 * 10**8, now)),
        ]
        program_ids = itertools.count(1)
        for portfolio in range(1, 5):
            fixed.append(
                (
                    "portfolio (id, organization_id, name, steering_threshold)",
                    (portfolio, 1, f"Portfolio {portfolio}", 10**6 * STORAGE_SCALE),
                )
            )
            for program_id in itertools.islice(program_ids, 5):
                fixed.append(
                    (
                        "program (id, portfolio_id, name)",
                        (program_id, portfolio, f"Program {program_id}"),
                    )
                )
        for table, row in fixed:
            cur.execute(insert.format(table, ", ".join(["%s"] * len(row))), row)
        programs = [row[0] for table, row in fixed if table.startswith("program")]
        package_ids = []
        project_id = package_id = 0
        for program_id in programs:
            for _ in range(5):
                project_id += 1
                cur.execute(
                    "INSERT INTO project (id, program_id, name) VALUES (%s, %s, %s)",
                    (project_id, program_id, f"Project {project_id}"),
                )
                for _ in range(10):
                    package_id += 1
                    package_ids.append(package_id)
                    cur.execute(
                        "INSERT INTO measure_package (id, project_id, name) VALUES (%s, %s, %s)",
                        (package_id, project_id, f"Package {package_id}"),
                    )
        measure_rows, line_rows, value_rows, milestone_rows = [], [], [], []
        value_id = milestone_id = 0
        # Forecasts between Decided and closure: one in seven not confirmed since the month
        # before last.
        today = date.today()
        stale = forecasts.stale_before(today) - timedelta(days=10)
        for mid in range(1, measures + 1):
            stage = STAGES[mid % len(STAGES)]
            entity = 2 if mid % 5 == 0 else 1
            confirmed = (stale if mid % 7 == 0 else today) if stage in ASKED else "\\N"
            measure_rows.append(
                f"{mid}\tMeasure {mid}\t\t{package_ids[mid % len(package_ids)]}\t1\t{entity}\t"
                f"{START}\t24\t{stage}\t{now}\t{now}\t0\t{confirmed}\n"
            )
            line_rows.append(f"{mid}\t{mid}\tcost_reduction\tSavings\n")
            monthly = rng.randint(1_000, 50_000) * STORAGE_SCALE
            reached = monthly * rng.randint(70, 110) // 100
            for i, month in enumerate(MONTHS):
                for scenario, amount in (("plan", monthly), ("forecast", reached)):
                    value_id += 1
                    value_rows.append(f"{value_id}\t{mid}\t{scenario}\t{month}\t{amount}\n")
                if mid % 3 == 0 and i < 6:
                    value_id += 1
                    value_rows.append(f"{value_id}\t{mid}\tactual\t{month}\t{reached}\n")
            for offset in (rng.randint(-60, 30), rng.randint(30, 300)):
                milestone_id += 1
                planned = date.fromordinal(date(2026, 11, 26).toordinal() + offset)
                milestone_rows.append(f"{milestone_id}\t{mid}\tMilestone\t{planned}\n")
        _copy(
            cur,
            "measure",
            "id, title, description, package_id, business_unit_id, "
            "legal_entity_id, plan_start, horizon_months, stage, created_at, updated_at, "
            "plan_version, forecast_confirmed_on",
            measure_rows,
        )
        _copy(cur, "impact_line", "id, measure_id, category, description", line_rows)
        _copy(cur, "monthly_value", "id, impact_line_id, scenario, period, amount", value_rows)
        _copy(cur, "milestone", "id, measure_id, title, planned_date", milestone_rows)
        for table in (
            "organization",
            "portfolio",
            "program",
            "project",
            "measure_package",
            "measure",
            "impact_line",
            "monthly_value",
            "milestone",
            "legal_entity",
            "business_unit",
        ):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    asyncio.run(_rebuild_totals(database_url))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {measures:,} measures, {value_id:,} monthly values, {milestone_id:,} milestones")


async def _rebuild_totals(database_url: str) -> None:
    engine = create_engine(database_url)
    async with transaction(session_factory(engine)) as session:
        await totals.rebuild(session)
    await engine.dispose()


async def _seconds(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def _p(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


async def run(database_url: str, rounds: int) -> None:
    engine: AsyncEngine = create_engine(database_url)
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        admin = (await session.exec(select(Person).where(Person.email == ADMIN_EMAIL))).first()
        if admin is None:
            admin = Person(email=ADMIN_EMAIL, name="Bench Admin", is_admin=True)
            session.add(admin)
    cookie = await accounts.start_session(sessions, admin)
    settings = Settings(database_url=database_url, public_base_url="http://bench.local")
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench.local", cookies={"vg_session": cookie}
    ) as http:

        async def page(path: str) -> None:
            answer = await http.get(path)
            assert answer.status_code == 200, answer.text[:300]

        async def bare(*statements: tuple[str, dict[str, object]]) -> None:
            async with engine.connect() as conn:
                for sql, params in statements:
                    (await conn.execute(text(sql), params)).all()

        today = date.today()
        day: dict[str, object] = {
            "today": today,
            "amber_since": today - timedelta(days=AMBER_OVERDUE_DAYS),
            "stale_before": forecasts.stale_before(today),
        }
        cases = {
            "dashboard": (
                lambda: page("/dashboard?organization_id=1"),
                lambda: bare((TOTALS_BY_STAGE, {"org": 1, **day}), (TOTALS_BY_MONTH, {"org": 1})),
                lambda: bare(
                    (BARE_BY_STAGE, {"org": 1}),
                    (BARE_BY_MONTH, {"org": 1}),
                    (BARE_OVERRIDDEN_BY_MONTH, {"org": 1}),
                ),
                0.200,
            ),
            "hierarchy page (portfolio)": (
                lambda: page("/hierarchy/portfolio/1"),
                lambda: bare((TOTALS_BY_PROGRAM, {"portfolio": 1, **day})),
                lambda: bare((BARE_BY_PROGRAM, {"portfolio": 1})),
                0.150,
            ),
            "measures list (page of 50)": (
                lambda: page(MEASURE_LIST),
                lambda: bare((LIST_COUNT, {"portfolio": 1}), (LIST_PAGE, {"portfolio": 1})),
                lambda: bare((LIST_COUNT, {"portfolio": 1}), (LIST_PLANNED, {})),
                0.200,
            ),
        }
        print(f"{'':30} {'p50':>8} {'p95':>8}   (seconds, {rounds} rounds each, interleaved)")
        for name, (ours, baseline, full_scan, target) in cases.items():
            for _ in range(2):  # warm-up: plans cached, templates compiled
                await ours()
                await baseline()
            mine, theirs = [], []
            for _ in range(rounds):  # interleaved, so both see the same machine
                mine.append(await _seconds(ours))
                theirs.append(await _seconds(baseline))
            scans = [await _seconds(full_scan) for _ in range(3)]
            print(
                f"{name:30} {_p(mine, 0.5):8.3f} {_p(mine, 0.95):8.3f}   target p95 < {target:.3f}"
            )
            print(
                f"{'  bare SQL over the totals':30} {_p(theirs, 0.5):8.3f} {_p(theirs, 0.95):8.3f}"
            )
            print(f"{'  ratio (p95)':30} {_p(mine, 0.95) / _p(theirs, 0.95):8.2f}   target ≤ 1.50")
            print(f"{'  full scan (old), median of 3':30} {statistics.median(scans):8.3f}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--measures", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="load the data again")
    args = parser.parse_args()
    loaded = False
    if not args.reload:
        try:
            with psycopg.connect(args.database_url) as conn:
                found = conn.execute("SELECT count(*) FROM measure").fetchone()
                loaded = found is not None and found[0] == args.measures
        except psycopg.Error:
            loaded = False
    if not loaded:
        started = time.perf_counter()
        load(args.database_url, args.measures)
        print(f"(loading took {time.perf_counter() - started:.0f} s)")
    asyncio.run(run(args.database_url, args.rounds))


if __name__ == "__main__":
    main()
