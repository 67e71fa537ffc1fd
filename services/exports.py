"""Views taken out to a spreadsheet: the measure list (with its filters), a measure's figures, the
dashboard and a hierarchy node's roll-up, as XLSX (one sheet per view; money as numbers in
their currency's format, dates as dates, the filters written on top) and as CSV (one view a
file). Write-only openpyxl, so a long list streams into the file."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO, StringIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.measure import Measure
from models.money import minor_digits
from models.organization import BusinessUnit, LegalEntity
from models.people import Person
from models.rollups import Dashboard, NodeView, Rollup
from models.status import Light
from services import rollup
from services.briefing import SHOWN, Briefing
from services.workbooks import Money, cell_value, money_format

# The most rows one export writes (a longer list is narrowed with its filters first).
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class Table:
    title: str
    filters: list[str]
    header: list[str]
    rows: list[list[Any]]


MEASURE_HEADER = [
    "Code", "Title", "Stage", "Delivery status", "Value status",
    "Planned value (plan over the horizon, EBITDA lines, group currency)", "Owner", "Sponsor",
    "Controller", "Business unit", "Legal entity", "Updated (UTC)",
]  # fmt: skip


async def measure_table(
    session: AsyncSession,
    found: Sequence[tuple[Measure, Light, Light]],
    filters: list[str],
    planned: dict[int, rollup.Planned] | None = None,
) -> Table:
    """The measure list as a table: one row per measure, with its statuses and planned value
    (`planned`, where the list was read with them)."""
    if planned is None:
        planned = await rollup.planned_values(session, [m.id or 0 for m, _, _ in found])
    people = {m_id for m, _, _ in found for m_id in (m.owner_id, m.sponsor_id, m.controller_id)}
    names = dict(
        (
            await session.exec(
                select(Person.id, Person.name).where(col(Person.id).in_([p for p in people if p]))
            )
        ).all()
    )
    units = dict((await session.exec(select(BusinessUnit.id, BusinessUnit.code))).all())
    entities = dict((await session.exec(select(LegalEntity.id, LegalEntity.code))).all())
    rows = []
    for measure, delivery, value in found:
        amount, currency = planned.get(measure.id or 0, (None, ""))
        rows.append(
            [
                f"M-{measure.id}",
                measure.title,
                measure.stage.label,
                delivery.value,
                value.value,
                Money(amount, currency),
                names.get(measure.owner_id),
                names.get(measure.sponsor_id),
                names.get(measure.controller_id),
                units.get(measure.business_unit_id),
                entities.get(measure.legal_entity_id),
                measure.updated_at.replace(tzinfo=None),
            ]
        )
    return Table("Measures", filters, MEASURE_HEADER, rows)


def figures_table(about: Briefing) -> Table:
    """A measure's figures: a row per impact line and scenario, a column per month, and the
    total over the horizon; amounts in the legal entity's currency."""
    header = ["Impact line", "Category", "Scenario", *[p.isoformat()[:7] for p in about.periods]]
    header.append("Total over the horizon")
    rows = []
    for line in about.lines:
        for scenario in SHOWN:
            amounts = [line.amount(scenario, p) for p in about.periods]
            total = line.total(scenario, about.periods)
            rows.append(
                [
                    line.description,
                    line.category.value,
                    scenario.value,
                    *[Money(a, about.currency) for a in amounts],
                    Money(total, about.currency),
                ]
            )
    filters = [f"{about.ref} {about.title}", f"Currency: {about.currency} (the legal entity's)"]
    return Table(f"Figures {about.ref}", filters, header, rows)


def dashboard_tables(board: Dashboard, filters: list[str]) -> list[Table]:
    """The dashboard's views, a table each: totals, pipeline by stage, the dual-status matrix,
    and the EBITDA effect month by month; every amount in the group currency."""
    c = board.currency
    plan = f"Plan over the horizon (EBITDA effect, {c})"
    achieved = f"Actual, else forecast (EBITDA effect, {c})"
    verified = f"Verified (EBITDA effect, {c})"
    noted = [*filters, f"Amounts in the group currency {c}"]
    if board.missing_rates:
        noted.append("Left out for want of a rate: " + ", ".join(board.missing_rates))
    t = board.total
    totals = [
        t.measures, Money(t.plan, c), Money(t.achieved, c), Money(t.verified, c), t.attainment,
        t.delivery.value, t.value.value,
    ]  # fmt: skip
    return [
        Table(
            "Totals",
            noted,
            ["Measures", plan, achieved, verified, "Achieved of plan", "Delivery", "Value"],
            [totals],
        ),
        Table(
            "Pipeline",
            noted,
            ["Stage", "Measures", plan],
            [[row.stage.label, row.measures, Money(row.plan, c)] for row in board.pipeline],
        ),
        Table(
            "Status matrix",
            noted,
            ["Delivery", "Value", "Measures", plan],
            [
                [cell.delivery.value, cell.value.value, cell.measures, Money(cell.plan, c)]
                for cell in board.matrix
            ],
        ),
        Table(
            "By month",
            noted,
            ["Month", f"Plan ({c})", f"Actual, else forecast ({c})", f"Verified ({c})"],
            [
                [m.period, Money(m.plan, c), Money(m.achieved, c), Money(m.verified, c)]
                for m in board.months
            ],
        ),
    ]


ROLLUP_HEADER = [
    "Level", "Name", "Measures", "Plan over the horizon (EBITDA effect)",
    "Actual, else forecast (EBITDA effect)", "Verified (EBITDA effect)", "Achieved of plan",
    "Delivery", "Value", "Currency",
]  # fmt: skip


def rollup_table(view: NodeView) -> Table:
    """A hierarchy node and the nodes right below it, each rolled up, the node itself first."""
    path = " > ".join([*(step.name for step in view.path), view.name])
    filters = [f"ValueGate: {view.level} {path}", f"Amounts in {view.rollup.currency}"]
    if view.rollup.missing_rates:
        filters.append("Left out for want of a rate: " + ", ".join(view.rollup.missing_rates))
    rows = [_rollup_row(f"{view.level} (all)", view.name, view.rollup)]
    rows += [_rollup_row(child.level, child.name, child.rollup) for child in view.children]
    return Table(f"{view.level.capitalize()} {view.name}", filters, ROLLUP_HEADER, rows)


def _rollup_row(level: str, name: str, rolled: Rollup) -> list[Any]:
    c = rolled.currency
    return [
        level, name, rolled.measures, Money(rolled.plan, c), Money(rolled.achieved, c),
        Money(rolled.verified, c), rolled.attainment, rolled.delivery.value, rolled.value.value, c,
    ]  # fmt: skip


def xlsx(*tables: Table) -> bytes:
    """The tables as a workbook, one sheet each."""
    book = Workbook(write_only=True)
    for table in tables:
        _sheet(book, table)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(book: Workbook, table: Table) -> None:
    sheet = book.create_sheet(_sheet_title(table.title))
    sheet.freeze_panes = f"A{len(table.filters) + 3}"
    for line in table.filters:
        sheet.append([cell_value(line)])
    sheet.append([])
    heading = []
    for text in table.header:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        heading.append(cell)
    sheet.append(heading)
    for row in table.rows:
        sheet.append([_cell(sheet, value) for value in row])


def _sheet_title(title: str) -> str:
    """A sheet name Excel takes: at most 31 characters, none of []:*?/\\."""
    return "".join("-" if ch in "[]:*?/\\" else ch for ch in cell_value(title))[:31] or "Sheet"


def csv_text(table: Table) -> str:
    """The table as CSV: a header row, then the rows; amounts as plain decimals, dates ISO."""
    out = StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_plain(value) for value in row])
    return out.getvalue()


def _cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, Money):
        cell = WriteOnlyCell(sheet, value=value.amount)
        if value.currency:
            cell.number_format = money_format(value.currency)
        return cell
    if isinstance(value, datetime | date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd hh:mm" if isinstance(value, datetime) else "yyyy-mm-dd"
        return cell
    if isinstance(value, Decimal):  # a share, such as achieved of plan
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "0.0%"
        return cell
    return cell_value(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Money):
        if value.amount is None:
            return ""
        digits = minor_digits(value.currency) if value.currency else 2
        return f"{value.amount.quantize(Decimal(1).scaleb(-digits)):f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else value
