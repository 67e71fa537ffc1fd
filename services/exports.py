"""Views taken out to a spreadsheet: the measure list (with its filters) and a measure's figures,
as XLSX (money as numbers in their currency's format, dates as dates, the filters written on
top) and as CSV. Write-only openpyxl, so a long list streams into the file."""

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
from models.status import Light
from services import rollup
from services.briefing import SHOWN, Briefing
from services.workbooks import cell_value, money_format

# The most rows one export writes (a longer list is narrowed with its filters first).
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class Money:
    """An amount and its currency: a number cell in that currency's format."""

    amount: Decimal | None
    currency: str


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
) -> Table:
    """The measure list as a table: one row per measure, with its statuses and planned value."""
    ids = [m.id or 0 for m, _, _ in found]
    planned = await rollup.planned_values(session, ids)
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


def xlsx(table: Table) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.title[:31])
    sheet.freeze_panes = f"A{len(table.filters) + 3}"
    for line in table.filters:
        sheet.append([line])
    sheet.append([])
    heading = []
    for text in table.header:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        heading.append(cell)
    sheet.append(heading)
    for row in table.rows:
        sheet.append([_cell(sheet, value) for value in row])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


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
