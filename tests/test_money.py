"""Money is exact Decimal on both databases, for 0-, 2- and 3-digit currencies up to 10^12."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    func,
    select,
    type_coerce,
)

from models.columns import MoneyType
from models.money import amount_problem, minor_digits
from services import migrate
from services.db import sync_url
from tests.support import fresh_database

money_table = Table(
    "money_probe",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("amount", MoneyType()),
)


@pytest.fixture(scope="module")
def money_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A table with one MoneyType column, through the real driver of the database under test."""
    with fresh_database(tmp_path_factory.mktemp("money")) as url:
        migrate.upgrade(url)
        engine = create_engine(sync_url(url))
        money_table.create(engine)
        yield engine
        engine.dispose()


def amounts(currency: str) -> st.SearchStrategy[Decimal]:
    """Any amount a user could enter in `currency`, up to 10^12 in absolute value."""
    return st.decimals(
        min_value=Decimal(-(10**12)),
        max_value=Decimal(10**12),
        places=minor_digits(currency),
        allow_nan=False,
        allow_infinity=False,
    )


@pytest.mark.parametrize("currency", ["JPY", "EUR", "KWD"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_amounts_round_trip_exactly(
    money_engine: Engine, currency: str, data: st.DataObject
) -> None:
    values = data.draw(st.lists(amounts(currency), min_size=1, max_size=8))
    with money_engine.begin() as connection:
        connection.execute(money_table.delete())
        connection.execute(money_table.insert(), [{"amount": v} for v in values])
        stored = (
            connection.execute(select(money_table.c.amount).order_by(money_table.c.id))
            .scalars()
            .all()
        )
        total = connection.execute(
            select(type_coerce(func.sum(money_table.c.amount), MoneyType()))
        ).scalar_one()

    assert stored == values
    assert all(isinstance(v, Decimal) for v in stored)
    assert total == sum(values, Decimal(0))  # the database adds exactly, too


def test_the_value_that_float_storage_corrupts_survives(money_engine: Engine) -> None:
    value = Decimal("123456789012.1234")
    with money_engine.begin() as connection:
        connection.execute(money_table.delete())
        connection.execute(money_table.insert(), [{"amount": value}])
        assert connection.execute(select(money_table.c.amount)).scalar_one() == value


def test_float_is_refused_on_the_way_in(money_engine: Engine) -> None:
    with pytest.raises(Exception, match="float"), money_engine.begin() as connection:
        connection.execute(money_table.insert(), [{"amount": 1.1}])


@pytest.mark.parametrize(
    ("amount", "currency", "problem"),
    [
        ("1000", "JPY", None),
        ("1000.5", "JPY", "JPY amounts have at most 0 decimal places"),
        ("12.34", "EUR", None),
        ("12.345", "EUR", "EUR amounts have at most 2 decimal places"),
        ("12.345", "KWD", None),
        ("12.3456", "KWD", "KWD amounts have at most 3 decimal places"),
        (
            "100000000000000",
            "EUR",
            "amount must be smaller than 100,000,000,000,000 in absolute value",
        ),
        ("NaN", "EUR", "amount must be a finite number"),
    ],
)
def test_amount_rules_per_currency(amount: str, currency: str, problem: str | None) -> None:
    assert amount_problem(Decimal(amount), currency) == problem


def test_currency_digits_need_no_file_access_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The workflow sandbox refuses file access: the table must already be in memory.
    import babel.localedata

    monkeypatch.setattr(babel.localedata, "load", lambda *a, **k: pytest.fail("babel read a file"))
    monkeypatch.setattr("babel.core.get_global", lambda *a, **k: pytest.fail("babel read a file"))
    assert (minor_digits("JPY"), minor_digits("KWD"), minor_digits("EUR")) == (0, 3, 2)
