"""Roll-ups: how many measures, how much value and which dual status, for any set of measures
grouped by a hierarchy level or another dimension. The database does the adding up, from the
kept totals (models.totals: one summary row per measure, one row per package and month), never
from the monthly values themselves; Python only converts the few per-currency totals into the
group currency (at the rates of the day) and applies the status rules.

Each measure's value light is kept in its summary and its delivery light computed here for the
day, in SQL with the thresholds of `models.status`; the tests hold both to the same answer as
the Python functions the workflow's search attributes use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Numeric,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    func,
    select,
    true,
)
from sqlalchemy import type_coerce as as_type
from sqlalchemy.sql.expression import True_
from sqlmodel.ext.asyncio.session import AsyncSession

from models import forecasts
from models.columns import RateType
from models.fx import PRECISION, Converted, FxRate, convert
from models.measure import Measure
from models.money import STORAGE_SCALE, ImpactCategory
from models.organization import (
    LegalEntity,
    MeasurePackage,
    Organization,
    Portfolio,
    Program,
    Project,
)
from models.rollups import Rollup
from models.stages import Stage
from models.status import (
    AMBER_OVERDUE_DAYS,
    Light,
    judge_rolled_up_delivery,
    judge_rolled_up_value,
)
from models.totals import MeasureMonthTotal, MeasureSummary, PackageMonthTotal

_measure = Measure.__table__  # type: ignore[attr-defined]
_summary = MeasureSummary.__table__  # type: ignore[attr-defined]
_month = MeasureMonthTotal.__table__  # type: ignore[attr-defined]
_package = PackageMonthTotal.__table__  # type: ignore[attr-defined]
EBITDA = ("plan", "achieved", "verified")


def _units(column: Any) -> Any:
    """A money column as its stored whole number of 1/10,000 units, for exact SQL sums."""
    return as_type(column, BigInteger)


def _ebitda_sums(table: Any, *group: Any) -> Any:
    """Plan, achieved and verified of EBITDA categories in a totals table (models.totals),
    summed per `group` columns."""
    return (
        select(*group, *(func.sum(table.c[name]).label(name) for name in EBITDA))
        .where(table.c.category != ImpactCategory.CAPEX.value)
        .group_by(*group)
    )


def places(where: Any = None) -> Any:
    """Each measure (those matching `where`, a clause on Measure) with its stage, every level
    above it and its currency."""
    query = _placed(_measure, _measure.c.id, _measure.c.title, _measure.c.stage)
    return query.where(where) if where is not None else query


def measures(today: date | None, where: Any = None) -> Subquery:
    """One row per measure (those matching `where`, a clause on Measure): its place in the
    hierarchy, currency, plan / achieved / verified in currency units, and its dual status on
    `today` (None: the statement takes the parameters of `day_parameters`), and whether its
    forecast is unconfirmed. Read from
    the measures' summaries alone (and the small hierarchy tables)."""
    query = _placed(
        _summary,
        _summary.c.measure_id.label("id"),
        _summary.c.stage,
        _summary.c.plan,
        _summary.c.achieved,
        _summary.c.verified,
        _delivery(today).label("delivery"),
        _value(today).label("value"),
        _unconfirmed(today).label("unconfirmed"),
    )
    if where is not None and not isinstance(where, True_):
        query = query.where(_summary.c.measure_id.in_(select(_measure.c.id).where(where)))
    return query.subquery("measures")


def _delivery(today: date | None) -> Any:
    """A measure's delivery light on `today` from its summary's first open milestone (None: the
    statement takes the parameters `today` and `amber_since`)."""
    due = _summary.c.first_open
    day: Any
    amber_since: Any
    if today is None:
        day, amber_since = bindparam("today", type_=Date), bindparam("amber_since", type_=Date)
    else:
        day, amber_since = today, today - timedelta(days=AMBER_OVERDUE_DAYS)
    return case(
        (due.is_(None), Light.GREEN.value),
        (due >= day, Light.GREEN.value),
        (due >= amber_since, Light.AMBER.value),
        else_=Light.RED.value,
    )


def day_parameters(today: date) -> dict[str, date]:
    """The parameters a statement built for no particular day takes for `today`."""
    return {
        "today": today,
        "amber_since": today - timedelta(days=AMBER_OVERDUE_DAYS),
        "stale_before": forecasts.stale_before(today),
    }


def _unconfirmed(today: date | None) -> Any:
    """Whether a measure's forecast is unconfirmed on `today` (models.forecasts; None: the
    statement takes the parameter `stale_before`)."""
    if today is None:
        before: Any = bindparam("stale_before", type_=Date)
    else:
        before = forecasts.stale_before(today)
    return and_(
        _summary.c.forecast_confirmed_on.is_not(None), _summary.c.forecast_confirmed_on < before
    )


def _value(today: date | None) -> Any:
    """A measure's value light on `today`: its summary's, amber at best while its forecast is
    unconfirmed (None: the statement takes the parameter `stale_before`)."""
    green = _summary.c.value == Light.GREEN.value
    return case((and_(green, _unconfirmed(today)), Light.AMBER.value), else_=_summary.c.value)


def _placed(table: Any, *columns: Any) -> Any:
    """`columns` of `table` (measures, their summaries or package totals: each has package,
    business unit and legal entity ids) beside every level above its package and its
    currency."""
    organization = Organization.__table__  # type: ignore[attr-defined]
    return (
        select(
            *columns,
            table.c.package_id,
            MeasurePackage.__table__.c.project_id,  # type: ignore[attr-defined]
            Project.__table__.c.program_id,  # type: ignore[attr-defined]
            Program.__table__.c.portfolio_id,  # type: ignore[attr-defined]
            Portfolio.__table__.c.organization_id,  # type: ignore[attr-defined]
            table.c.business_unit_id,
            table.c.legal_entity_id,
            func.coalesce(
                LegalEntity.__table__.c.currency,  # type: ignore[attr-defined]
                organization.c.group_currency,
            ).label("currency"),
            organization.c.group_currency,
        )
        .join(MeasurePackage, MeasurePackage.id == table.c.package_id)
        .join(Project, Project.id == MeasurePackage.project_id)  # type: ignore[arg-type]
        .join(Program, Program.id == Project.program_id)  # type: ignore[arg-type]
        .join(Portfolio, Portfolio.id == Program.portfolio_id)  # type: ignore[arg-type]
        .join(organization, organization.c.id == Portfolio.organization_id)
        .outerjoin(LegalEntity, LegalEntity.id == table.c.legal_entity_id)
    )


@dataclass(frozen=True)
class PlannedValue:
    """Columns of a measure's planned value: `plan`, its plan over the horizon (EBITDA lines) in
    1/10,000 units of its currency; `rate`, the organization's rate to the group currency in
    1/10^10 units (10^10 when the currencies are the same; NULL without a rate); `sort_key`,
    their product, which orders measures by planned value in the group currency (exact on
    PostgreSQL, numeric; beyond 2^63 SQLite keeps it as a real, which orders all the same).
    Amounts shown are computed from `plan` and `rate` in Decimal (`planned_values`)."""

    plan: Any
    rate: Any
    group_currency: Any
    sort_key: Any


# A measure's planned value in its group currency (None without a rate), and that currency.
Planned = tuple[Decimal | None, str]


def with_planned_value(query: Any) -> tuple[Any, PlannedValue]:
    """`query`, a select of measures (from Measure), joined with what gives each measure its
    planned value, and the columns that say it."""
    organization = Organization.__table__  # type: ignore[attr-defined]
    fx = FxRate.__table__  # type: ignore[attr-defined]
    entity = LegalEntity.__table__  # type: ignore[attr-defined]
    currency = func.coalesce(entity.c.currency, organization.c.group_currency)
    same = 10**RateType.DECIMALS
    rate = case((currency == organization.c.group_currency, same), else_=_units(fx.c.rate))
    plan = func.coalesce(_summary.c.plan, 0)
    exact = Numeric(38, 0)
    joined = (
        query.outerjoin(_summary, _summary.c.measure_id == _measure.c.id)
        .join(MeasurePackage, MeasurePackage.id == _measure.c.package_id)
        .join(Project, Project.id == MeasurePackage.project_id)
        .join(Program, Program.id == Project.program_id)
        .join(Portfolio, Portfolio.id == Program.portfolio_id)
        .join(organization, organization.c.id == Portfolio.organization_id)
        .outerjoin(entity, entity.c.id == _measure.c.legal_entity_id)
        .outerjoin(fx, and_(fx.c.organization_id == organization.c.id, fx.c.currency == currency))
    )
    sort_key = cast(plan, exact) * cast(rate, exact)
    return joined, PlannedValue(plan, rate, organization.c.group_currency, sort_key)


async def planned_values(session: AsyncSession, ids: list[int]) -> dict[int, Planned]:
    """The planned value of each of the measures `ids` in its group currency, and that
    currency; None where no rate converts it."""
    if not ids:
        return {}
    query, planned = with_planned_value(select(_measure.c.id).where(_measure.c.id.in_(ids)))
    statement = query.add_columns(planned.plan, planned.rate, planned.group_currency)
    return planned_from((await session.exec(statement)).all())


def planned_from(rows: Iterable[Any]) -> dict[int, Planned]:
    """`planned_values` from rows of (measure id, plan, rate, group currency): the columns of
    `PlannedValue`, read wherever a query already joined them."""
    return {
        measure_id: (
            None
            if rate is None
            else (_decimal(plan) * Decimal(int(rate)).scaleb(-RateType.DECIMALS)).quantize(
                PRECISION
            ),
            currency,
        )
        for measure_id, plan, rate, currency in rows
    }


@dataclass(frozen=True)
class Filters:
    """Narrow a roll-up to one part of the organization."""

    organization_id: int | None = None
    portfolio_id: int | None = None
    program_id: int | None = None
    project_id: int | None = None
    package_id: int | None = None
    business_unit_id: int | None = None
    legal_entity_id: int | None = None

    def clause(self, rows: Subquery) -> Any:
        chosen = [rows.c[name] == value for name, value in vars(self).items() if value is not None]
        return and_(true(), *chosen)


@dataclass
class _Sums:
    """Per-currency sums of one group, as the database returned them."""

    count: int = 0
    counts: dict[str, dict[Light, int]] = field(
        default_factory=lambda: {"delivery": defaultdict(int), "value": defaultdict(int)}
    )
    money: dict[str, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, name: str, currency: str, units: Any) -> None:
        amounts = self.money[name]
        amounts[currency] = amounts.get(currency, Decimal(0)) + _decimal(units)

    def merge(self, other: _Sums) -> None:
        self.count += other.count
        for kind, by_light in other.counts.items():
            for light, n in by_light.items():
                self.counts[kind][light] += n
        for name, amounts in other.money.items():
            for currency, amount in amounts.items():
                mine = self.money[name]
                mine[currency] = mine.get(currency, Decimal(0)) + amount


MONEY = (
    "plan",
    "achieved",
    "verified",
    "weight",
    "late_weight",
    "red_weight",
    "unconfirmed_weight",
)


def _money_sums(rows: Subquery) -> list[Any]:
    weight = case((rows.c.plan > 0, rows.c.plan), else_=0)
    late = case((rows.c.delivery != Light.GREEN.value, weight), else_=0)
    red = case((rows.c.delivery == Light.RED.value, weight), else_=0)
    unconfirmed = case((rows.c.unconfirmed, weight), else_=0)
    return [
        func.sum(rows.c.plan).label("plan"),
        func.sum(rows.c.achieved).label("achieved"),
        func.sum(rows.c.verified).label("verified"),
        func.sum(weight).label("weight"),
        func.sum(late).label("late_weight"),
        func.sum(red).label("red_weight"),
        func.sum(unconfirmed).label("unconfirmed_weight"),
    ]


SKIP = object()  # a regrouping that leaves a group out


@dataclass
class Grouped:
    """Per-organization, per-currency sums of the groups one query returned; regrouped and
    turned into roll-ups without asking the database again."""

    groups: dict[Any, dict[int, _Sums]]
    rates: Mapping[int, GroupRates]

    def rollups(self, regroup: Callable[[Any], Any] = lambda key: key) -> dict[Any, Rollup]:
        """Roll-ups by `regroup(key)` of each group (SKIP leaves a group out)."""
        merged: dict[Any, dict[int, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
        for key, by_org in self.groups.items():
            new = regroup(key)
            if new is SKIP:
                continue
            for org, sums in by_org.items():
                merged[new][org].merge(sums)
        return {key: _combine(by_org, self.rates) for key, by_org in merged.items()}


async def grouped(
    session: AsyncSession,
    *,
    by: str | tuple[str, ...] | None,
    today: date,
    where: Any = None,
    filters: Filters = Filters(),
    cancelled: bool = False,
) -> Grouped:
    """One query over the measures matching `where` and `filters` (cancelled ones only with
    `cancelled`), grouped by the column(s) `by` of `measures()` — e.g. "portfolio_id", or
    ("delivery", "value"); None: one group, key None. Keys are values, or tuples of values."""
    rows = measures(today, where)
    names = (by,) if isinstance(by, str) else (by or ())
    keys = [rows.c[name].label(f"key_{i}") for i, name in enumerate(names)]
    query = select(
        *keys,
        rows.c.organization_id,
        rows.c.currency,
        rows.c.delivery,
        rows.c.value,
        func.count().label("count"),
        *_money_sums(rows),
    ).where(filters.clause(rows))
    if not cancelled:
        query = query.where(rows.c.stage != Stage.CANCELLED.value)
    query = query.group_by(
        *keys, rows.c.organization_id, rows.c.currency, rows.c.delivery, rows.c.value
    )
    result = (await session.exec(query)).all()  # type: ignore[call-overload]
    groups: dict[Any, dict[int, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    for row in result:
        values = tuple(row[: len(keys)])
        key = values[0] if isinstance(by, str) else (values or None)
        sums = groups[key][row.organization_id]
        sums.count += row.count
        sums.counts["delivery"][Light(row.delivery)] += row.count
        sums.counts["value"][Light(row.value)] += row.count
        for name in MONEY:
            sums.add(name, row.currency, getattr(row, name))
    rates = await _rates(session, {org for by_org in groups.values() for org in by_org})
    return Grouped(groups, rates)


async def rollups(session: AsyncSession, **options: Any) -> dict[Any, Rollup]:
    """Roll-ups grouped as `grouped(session, **options)` groups them."""
    return (await grouped(session, **options)).rollups()


EVERY_PACKAGE = object()  # `months(packages=...)`: every package, and every measure in it


async def months(
    session: AsyncSession,
    *,
    today: date,
    where: Any = None,
    filters: Filters = Filters(),
    packages: Any = None,
) -> dict[date, dict[str, Converted]]:
    """Plan, achieved and verified EBITDA effect per month in the group currency, for the
    measures matching `where` and `filters` that are not cancelled. `packages`, a select of the
    ids of packages whose measures all match `where` (or EVERY_PACKAGE), are read from their
    package totals; the other measures' months measure by measure."""
    found: dict[date, dict[int, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    statements = []
    if packages is not None:
        rows = _placed(_package, _package.c.period, *(_package.c[n] for n in EBITDA))
        rows = rows.subquery("package_places")
        chosen = [filters.clause(rows)]
        if packages is not EVERY_PACKAGE:
            chosen.append(rows.c.package_id.in_(packages))
        group = [rows.c.period, rows.c.organization_id, rows.c.currency]
        statements.append(
            select(*group, *(func.sum(rows.c[name]).label(name) for name in EBITDA))
            .where(*chosen)
            .group_by(*group)
        )
    if packages is not EVERY_PACKAGE:
        alone = _measure.c.stage != Stage.CANCELLED.value
        if packages is not None:
            alone = and_(alone, _measure.c.package_id.not_in(packages))
        rows = places(where).where(alone).subquery("places")
        group = [_month.c.period, rows.c.organization_id, rows.c.currency]
        statements.append(
            _ebitda_sums(_month, *group)
            .join(rows, rows.c.id == _month.c.measure_id)
            .where(filters.clause(rows))
        )
    for statement in statements:
        for row in (await session.exec(statement)).all():  # type: ignore[call-overload]
            into = found[row.period][row.organization_id]
            for name in EBITDA:
                into.add(name, row.currency, getattr(row, name))
    rates = await _rates(session, {org for by_org in found.values() for org in by_org})
    return {
        period: {name: _converted(by_org, rates, name) for name in EBITDA}
        for period, by_org in sorted(found.items())
    }


def _converted(
    by_org: Mapping[int, _Sums], rates: Mapping[int, GroupRates], name: str
) -> Converted:
    amount, missing = Decimal(0), set()
    for org, sums in by_org.items():
        converted = rates[org].convert(sums.money[name])
        amount += converted.amount
        missing.update(converted.missing_rates)
    return Converted(amount=amount, missing_rates=sorted(missing))


def _decimal(units: Any) -> Decimal:
    return Decimal(int(units or 0)) / STORAGE_SCALE


@dataclass(frozen=True)
class GroupRates:
    currency: str
    rates: Mapping[str, Decimal]

    def convert(self, totals: Mapping[str, Decimal]) -> Converted:
        return convert(totals, self.rates, self.currency)


async def _rates(session: AsyncSession, organizations: Iterable[int]) -> dict[int, GroupRates]:
    ids = sorted(organizations)
    if not ids:
        return {}
    orgs = (
        await session.exec(
            select(Organization.id, Organization.group_currency).where(  # type: ignore[call-overload]
                Organization.id.in_(ids)  # type: ignore[union-attr]
            )
        )
    ).all()
    fx = (
        await session.exec(
            select(FxRate.organization_id, FxRate.currency, FxRate.rate).where(  # type: ignore[call-overload]
                FxRate.organization_id.in_(ids)  # type: ignore[attr-defined]
            )
        )
    ).all()
    by_org: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for org, currency, rate in fx:
        by_org[org][currency] = rate
    return {org: GroupRates(currency, by_org[org]) for org, currency in orgs}


def _combine(by_org: Mapping[int, _Sums], rates: Mapping[int, GroupRates]) -> Rollup:
    """One roll-up from per-organization, per-currency sums. (A group spans one organization in
    practice; across organizations the amounts add up only when they share a group currency.)"""
    currency = next(iter({rates[org].currency for org in by_org}), "")
    total = Rollup(currency=currency)
    by_delivery: dict[Light, int] = defaultdict(int)
    by_value: dict[Light, int] = defaultdict(int)
    for sums in by_org.values():
        total.measures += sums.count
        for light, n in sums.counts["delivery"].items():
            by_delivery[light] += n
        for light, n in sums.counts["value"].items():
            by_value[light] += n
    money = {name: _converted(by_org, rates, name) for name in MONEY}
    total.plan, total.achieved = money["plan"].amount, money["achieved"].amount
    total.verified = money["verified"].amount
    total.by_delivery, total.by_value = dict(by_delivery), dict(by_value)
    total.missing_rates = sorted({c for m in money.values() for c in m.missing_rates})
    weight = money["weight"].amount
    value = judge_rolled_up_value(
        total.plan,
        total.achieved,
        weight=weight,
        unconfirmed_weight=money["unconfirmed_weight"].amount,
    )
    if weight > 0:
        delivery = judge_rolled_up_delivery(
            money["late_weight"].amount, money["red_weight"].amount, weight, of="planned value"
        )
    else:  # nothing planned yet: every measure weighs the same
        late = total.measures - by_delivery.get(Light.GREEN, 0)
        red = by_delivery.get(Light.RED, 0)
        delivery = judge_rolled_up_delivery(
            Decimal(late), Decimal(red), Decimal(total.measures), of="the measures"
        )
    total.value, total.value_reason = value.light, value.reason
    total.delivery, total.delivery_reason = delivery.light, delivery.reason
    return total


async def measure_lights(
    session: AsyncSession, *, ids: Sequence[int], today: date
) -> dict[int, tuple[Light, Light]]:
    """(delivery, value) of each measure in `ids`, as the roll-ups see them."""
    params = {"ids": list(ids), **day_parameters(today)}
    found = (await session.exec(_lights_statement(), params=params)).all()
    return {row.id: (Light(row.delivery), Light(row.value)) for row in found}


@cache
def _lights_statement() -> Any:
    """The statement behind `measure_lights`, built once: every lifecycle step and page asks.
    It reads the summaries alone: a light needs no place in the hierarchy."""
    return select(
        _summary.c.measure_id.label("id"),
        _delivery(None).label("delivery"),
        _value(None).label("value"),
    ).where(_summary.c.measure_id.in_(bindparam("ids", expanding=True)))
