"""Roll-ups on known inputs: counts, values in the group currency, both statuses value-weighted,
and each measure's status in SQL the same as the rule in `models.status`."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.measure import Measure
from models.stages import Stage
from models.status import (
    Light,
    implementation_status,
    judge_value,
    potential_status,
    rolled_up_delivery,
)
from services import rollup, totals
from services.db import transaction
from services.rollup import Filters
from tests.rollup_data import FEB, JAN, TODAY, Figures, Tree, add_measure, make_tree


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (Figures(plan={JAN: "100"}, forecast={JAN: "95"}), (Light.GREEN, Light.GREEN)),
        (Figures(plan={JAN: "100"}, forecast={JAN: "94.99"}), (Light.GREEN, Light.AMBER)),
        (Figures(plan={JAN: "100"}, forecast={JAN: "80"}), (Light.GREEN, Light.AMBER)),
        (Figures(plan={JAN: "100"}, forecast={JAN: "79.99"}), (Light.GREEN, Light.RED)),
        (Figures(forecast={JAN: "5"}), (Light.GREEN, Light.NONE)),
        (Figures(plan={JAN: "-100"}, forecast={JAN: "5"}), (Light.GREEN, Light.NONE)),
        # actual where entered, else forecast: 60 + 40 of 100
        (
            Figures(
                plan={JAN: "50", FEB: "50"}, forecast={JAN: "10", FEB: "40"}, actual={JAN: "60"}
            ),
            (Light.GREEN, Light.GREEN),
        ),
        # capex is not EBITDA: a huge capex plan changes nothing
        (
            Figures(plan={JAN: "100"}, forecast={JAN: "100"}, capex_plan="-9000"),
            (Light.GREEN, Light.GREEN),
        ),
        (Figures(overdue_days=0), (Light.GREEN, Light.NONE)),
        (Figures(overdue_days=-3), (Light.GREEN, Light.NONE)),
        (Figures(overdue_days=14), (Light.AMBER, Light.NONE)),
        (Figures(overdue_days=15), (Light.RED, Light.NONE)),
    ],
)  # fmt: skip
async def test_each_measure_status_in_sql_matches_the_rule(
    sessions: async_sessionmaker[AsyncSession], figures: Figures, expected: tuple[Light, Light]
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    mid = await add_measure(sessions, tree, figures)
    async with sessions() as session:
        lights = await rollup.measure_lights(session, ids=[mid], today=TODAY)
    # the pure rule the workflow's search attributes were built on gives the same answer
    open_dates = [] if figures.overdue_days is None else [TODAY - timedelta(figures.overdue_days)]
    reached = {**{k: Decimal(v) for k, v in figures.forecast.items()}}
    reached |= {k: Decimal(v) for k, v in figures.actual.items()}
    by_rule = (
        implementation_status(open_dates, today=TODAY),
        potential_status(sum((Decimal(v) for v in figures.plan.values()), Decimal(0)),
                         sum(reached.values(), Decimal(0))),
    )  # fmt: skip
    assert lights[mid] == expected == by_rule


async def _portfolio(sessions: async_sessionmaker[AsyncSession], usd_rate: str | None) -> Tree:
    tree = await make_tree(sessions, usd_rate=usd_rate)
    # Program A: on plan and on time (EUR)
    await add_measure(
        sessions, tree, Figures(plan={JAN: "1000"}, forecast={JAN: "1000"}, overdue_days=-5)
    )
    # Program A: 85 % of plan (USD), ten days late — USD 1,000 = EUR 900 at 0.9
    await add_measure(
        sessions,
        tree,
        Figures(
            plan={JAN: "500", FEB: "500"},
            forecast={JAN: "500", FEB: "500"},
            actual={JAN: "350"},
            overdue_days=10,
        ),
        currency="USD",
    )
    # Program B: half of plan, three weeks late (EUR)
    await add_measure(
        sessions,
        tree,
        Figures(plan={JAN: "100"}, forecast={JAN: "50"}, overdue_days=21),
        program="B",
    )
    # Program B: nothing planned yet, no milestones
    await add_measure(sessions, tree, Figures(stage=Stage.IDENTIFIED), program="B")
    # Cancelled: never counted, however large
    await add_measure(
        sessions,
        tree,
        Figures(plan={JAN: "99999"}, overdue_days=99, stage=Stage.CANCELLED),
        program="B",
    )
    return tree  # fmt: skip


async def test_portfolio_rollup_in_the_group_currency_value_weighted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tree = await _portfolio(sessions, usd_rate="0.9")
    async with sessions() as session:
        whole = (await rollup.rollups(session, by="portfolio_id", today=TODAY))[tree.portfolio_id]
        programs = await rollup.rollups(session, by="program_id", today=TODAY)

    assert whole.measures == 4
    assert whole.plan == Decimal("2000")  # 1000 + 900 + 100
    assert whole.achieved == Decimal("1815")  # 1000 + 0.9 * 850 + 50
    assert whole.attainment == Decimal("0.9075")
    assert whole.value is Light.AMBER
    # EUR 1,000 of 2,000 on time; EUR 100 more than 14 days late: amber, not red
    assert whole.delivery is Light.AMBER
    assert whole.delivery_reason == (
        "50 % of planned value on time, below 95 %; "
        "95 % within 14 days of its milestones, at least 80 %"
    )
    assert whole.value_reason == (
        "90 % of plan achieved (actual where entered, else forecast), below 95 %, at least 80 %"
    )
    assert whole.by_delivery == {Light.GREEN: 2, Light.AMBER: 1, Light.RED: 1}
    assert whole.by_value == {Light.GREEN: 1, Light.AMBER: 1, Light.RED: 1, Light.NONE: 1}
    assert whole.missing_rates == []

    a, b = programs[tree.programs["A"]], programs[tree.programs["B"]]
    assert (a.measures, a.plan, a.achieved) == (2, Decimal("1900"), Decimal("1765"))
    assert (a.delivery, a.value) == (Light.AMBER, Light.AMBER)  # 1765 / 1900 = 92.9 %
    assert (b.measures, b.plan, b.achieved) == (2, Decimal("100"), Decimal("50"))
    # all of B's planned value is three weeks late: red on both
    assert (b.delivery, b.value) == (Light.RED, Light.RED)
    assert b.delivery_reason == "0 % of planned value within 14 days of its milestones, below 80 %"


async def test_a_currency_without_a_rate_is_named_not_guessed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tree = await _portfolio(sessions, usd_rate=None)
    async with sessions() as session:
        whole = (await rollup.rollups(session, by="portfolio_id", today=TODAY))[tree.portfolio_id]
    assert whole.missing_rates == ["USD"]
    assert whole.plan == Decimal("1100")
    assert whole.measures == 4


async def test_filters_and_visibility_narrow_the_rollup(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tree = await _portfolio(sessions, usd_rate="0.9")
    async with sessions() as session:
        usd_only = await rollup.rollups(
            session,
            by=None,
            today=TODAY,
            filters=Filters(legal_entity_id=tree.entities["USD"]),
        )
        only_b = await rollup.rollups(
            session,
            by=None,
            today=TODAY,
            where=Measure.package_id == tree.packages["B"],
        )
    assert (usd_only[None].measures, usd_only[None].plan) == (1, Decimal("900"))
    assert (only_b[None].measures, only_b[None].plan) == (2, Decimal("100"))  # fmt: skip


@pytest.mark.parametrize(
    ("late", "red", "light"),
    [("0", "0", Light.GREEN), ("5", "0", Light.GREEN), ("5.01", "0", Light.AMBER),
     ("50", "20", Light.AMBER), ("50", "20.01", Light.RED)],
)  # fmt: skip
def test_delivery_rollup_thresholds_by_share_of_value(late: str, red: str, light: Light) -> None:
    assert rolled_up_delivery(Decimal(late), Decimal(red), Decimal(100)) is light


# TODAY is 30 Jun 2027: a forecast confirmed before 1 May 2027 is unconfirmed.
@pytest.mark.parametrize(
    ("forecast", "confirmed", "expected"),
    [
        ("100", date(2027, 5, 1), Light.GREEN),  # confirmed last month: still holds
        ("100", date(2027, 4, 30), Light.AMBER),  # not since April: amber at best
        ("90", date(2027, 4, 30), Light.AMBER),
        ("50", date(2027, 4, 30), Light.RED),  # red stays red
        ("100", None, Light.GREEN),  # not asked for (before Decided, or closed)
    ],
)
async def test_a_forecast_left_unconfirmed_makes_the_value_light_amber_at_best(
    sessions: async_sessionmaker[AsyncSession],
    forecast: str,
    confirmed: date | None,
    expected: Light,
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    figures = Figures(plan={JAN: "100"}, forecast={JAN: forecast}, forecast_confirmed_on=confirmed)
    mid = await add_measure(sessions, tree, figures)
    async with sessions() as session:
        lights = await rollup.measure_lights(session, ids=[mid], today=TODAY)
        whole = (await rollup.rollups(session, by="portfolio_id", today=TODAY))[tree.portfolio_id]
    stale = confirmed if confirmed and confirmed < date(2027, 5, 1) else None
    by_rule = judge_value(Decimal(100), Decimal(forecast), unconfirmed_since=stale).light
    assert lights[mid][1] is expected is by_rule
    assert whole.by_value == {expected: 1}


async def test_a_group_is_amber_while_more_than_5_percent_of_its_plan_lacks_a_confirmed_forecast(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tree = await make_tree(sessions, usd_rate=None)
    fresh, stale = date(2027, 6, 2), date(2027, 3, 15)
    await add_measure(
        sessions,
        tree,
        Figures(plan={JAN: "940"}, forecast={JAN: "940"}, forecast_confirmed_on=fresh),
    )
    small = await add_measure(
        sessions, tree, Figures(plan={JAN: "60"}, forecast={JAN: "60"}, forecast_confirmed_on=stale)
    )
    async with sessions() as session:
        whole = (await rollup.rollups(session, by="portfolio_id", today=TODAY))[tree.portfolio_id]
    assert whole.value is Light.AMBER
    assert whole.value_reason == (
        "94 % of planned value has a confirmed forecast, below 95 %; "
        "100 % of plan achieved (actual where entered, else forecast), at least 95 %"
    )
    assert whole.by_value == {Light.GREEN: 1, Light.AMBER: 1}

    async with transaction(sessions) as session:  # its owner confirms: the group is green again
        await session.exec(
            update(Measure).where(col(Measure.id) == small).values(forecast_confirmed_on=TODAY)
        )
        await totals.refresh_forecast_confirmed(session, small)
    async with sessions() as session:
        whole = (await rollup.rollups(session, by="portfolio_id", today=TODAY))[tree.portfolio_id]
    assert (whole.value, whole.by_value) == (Light.GREEN, {Light.GREEN: 2})
