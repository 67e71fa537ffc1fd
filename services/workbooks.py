"""XLSX files in and out: reading an uploaded workbook safely (size, zip bomb, encryption,
corruption, merged cells, formulas without values) into rows with python-calamine (Rust's
calamine: about twenty times faster than openpyxl's read-only mode on a large file), and writing
the import template with openpyxl (lists, frozen headers, number formats)."""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineError, CalamineWorkbook

from models.import_sheets import SHEETS, Problem, Sheet
from models.money import ImpactCategory, minor_digits

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted workbooks and old .xls files
# A formula cell with no cached value: <c r="B2"><f>SUM(A1:A3)</f></c> (no or an empty <v>).
_FORMULA_WITHOUT_VALUE = re.compile(
    rb'<c r="([A-Z]+[0-9]+)"[^>]*>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)(?:<v\s*/>|<v></v>)?</c>'
)


@dataclass(frozen=True)
class Money:
    """An amount and its currency: a number cell in that currency's format."""

    amount: Decimal | None
    currency: str


class WorkbookRefused(Exception):
    """The file as a whole cannot be read; nothing was written. The message says why."""


class Row:
    """One row's cells, read by column header (`row.get("Amount")`); an empty cell is None, and
    `number` is the spreadsheet's row number. Its values sit in a tuple and the headers'
    positions are shared by the sheet's rows, so half a million rows stay small."""

    __slots__ = ("_index", "_values", "number")

    def __init__(self, number: int, index: dict[str, int], values: tuple[Any, ...]) -> None:
        self.number = number
        self._index = index
        self._values = values

    def get(self, column: str, default: Any = None) -> Any:
        at = self._index.get(column)
        if at is None or at >= len(self._values):
            return default
        value = self._values[at]
        return default if value is None or value == "" else value

    def __contains__(self, column: object) -> bool:
        return column in self._index


@dataclass
class Rows:
    """The rows of each known sheet."""

    sheets: dict[str, list[Row]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def of(self, sheet: Sheet) -> list[Row]:
        return self.sheets.get(sheet.name, [])

    def take(self, sheet: Sheet) -> Iterator[Row]:
        """The sheet's rows in order, each let go once the caller moves on: a long sheet's
        memory is freed as it is read."""
        rows = self.sheets.pop(sheet.name, [])
        rows.reverse()
        while rows:
            yield rows.pop()

    @property
    def count(self) -> int:
        return sum(len(rows) for rows in self.sheets.values())


def opened(content: bytes, *, max_uncompressed: int) -> zipfile.ZipFile:
    """The file as a zip archive, if it can be one of a workbook we may open (a cheap look at
    its container, no sheet read); WorkbookRefused otherwise."""
    if content.startswith(_OLE):
        raise WorkbookRefused(
            "the file is encrypted or an old Excel 97-2003 .xls: save it as an unprotected .xlsx"
        )
    try:
        archive = zipfile.ZipFile(BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as error:
        raise WorkbookRefused("the file is not an .xlsx workbook") from error
    unpacked = sum(member.file_size for member in members)
    if unpacked > max_uncompressed:
        raise WorkbookRefused(
            f"the workbook unpacks to {unpacked:,} bytes, more than the {max_uncompressed:,} "
            "allowed: split it into several files"
        )
    return archive


def read(content: bytes, *, max_uncompressed: int) -> Rows:
    """The known sheets' rows; WorkbookRefused when the file is not a workbook we may open."""
    archive = opened(content, max_uncompressed=max_uncompressed)
    members = archive.infolist()
    try:
        book = CalamineWorkbook.from_filelike(BytesIO(content))
    except (CalamineError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise WorkbookRefused("the workbook is damaged and cannot be read") from error
    rows = Rows()
    names = {member.filename for member in members}
    for index, sheet_name in enumerate(book.sheet_names):
        sheet = next((s for s in SHEETS if s.name == sheet_name), None)
        if sheet is None:
            continue
        try:
            page = book.get_sheet_by_name(sheet_name)
        except CalamineError as error:
            raise WorkbookRefused(f"the sheet {sheet_name} cannot be read") from error
        if page.merged_cell_ranges:
            rows.problems.append(
                Problem(sheet=sheet.name, message="the sheet has merged cells: unmerge them")
            )
        _formulas_without_values(archive, names, f"xl/worksheets/sheet{index + 1}.xml", sheet, rows)
        first_row = page.start[0] + 1 if page.start else 1
        rows.sheets[sheet.name] = _rows(page.iter_rows(), first_row, sheet, rows.problems)
    if not rows.sheets:
        raise WorkbookRefused(
            "the workbook has none of the sheets " + ", ".join(s.name for s in SHEETS)
        )
    return rows


def _formulas_without_values(
    archive: zipfile.ZipFile, names: set[str], path: str, sheet: Sheet, rows: Rows
) -> None:
    """Formulas the file holds without a saved value (a reader sees them as empty)."""
    if path not in names:
        return
    for found in _FORMULA_WITHOUT_VALUE.finditer(archive.read(path)):
        cell = found.group(1).decode()
        rows.problems.append(
            Problem(
                sheet=sheet.name,
                row=int(re.sub(r"[A-Z]", "", cell)),
                column=cell,
                message="a formula without a saved value: open the file in Excel and save it, "
                "or paste the values",
            )
        )


def _rows(lines: Any, first_row: int, sheet: Sheet, problems: list[Problem]) -> list[Row]:
    header = next(lines, None)
    if header is None:
        return []
    headers = [str(h).strip() if h is not None else "" for h in header]
    missing = [c.header for c in sheet.columns if c.required and c.header not in headers]
    if missing:
        problems.append(
            Problem(
                sheet=sheet.name, row=first_row, message=f"missing column(s): {', '.join(missing)}"
            )
        )
        return []
    index = {h: i for i, h in enumerate(headers) if h in sheet.headers}
    width = max(index.values(), default=-1) + 1  # the columns after the last known one go
    found = []
    intern = sys.intern
    days: dict[Any, Any] = {}
    for number, values in enumerate(lines, start=first_row + 1):
        if all(v is None or v == "" for v in values):
            continue
        # Keys, scenarios and codes repeat on every row, and so do months: one object each.
        cells = tuple(
            intern(v) if isinstance(v, str) and len(v) <= 40
            else days.setdefault(v, v) if isinstance(v, date)
            else v
            for v in values[:width]
        )  # fmt: skip
        found.append(Row(number, index, cells))
    return found


@dataclass(frozen=True)
class Choices:
    """What the template's lists offer, and its currency formats."""

    business_units: list[str]
    legal_entities: list[tuple[str, str]]  # code, currency
    prefill: dict[str, list[list[Any]]] = field(default_factory=dict)  # sheet → rows


def template(choices: Choices) -> bytes:
    """The import workbook: instructions, one sheet per kind of row with frozen headers, list
    validations, date and money formats; pre-filled with `choices.prefill`."""
    book = Workbook()
    guide = book.active
    assert guide is not None
    guide.title = "Instructions"
    guide.append(["ValueGate import"])
    guide["A1"].font = Font(bold=True, size=14)
    guide.append(["Fill in the sheets, upload the file, check the dry run's report, then apply."])
    guide.append(["Money cells are numbers in the legal entity's currency; dates are date cells."])
    guide.append([])
    for sheet in SHEETS:
        guide.append([sheet.name, sheet.purpose])
        for column in sheet.columns:
            guide.append(
                ["", column.header + (" (required)" if column.required else ""), column.note]
            )
    guide.column_dimensions["A"].width = 18
    guide.column_dimensions["B"].width = 30
    guide.column_dimensions["C"].width = 80
    for sheet in SHEETS:
        page = book.create_sheet(sheet.name)
        page.append(sheet.headers)
        for cell in page[1]:
            cell.font = Font(bold=True)
        page.freeze_panes = "A2"
        for i, column in enumerate(sheet.columns):
            page.column_dimensions[_letter(i)].width = max(14, len(column.header) + 4)
        for row in choices.prefill.get(sheet.name, []):
            page.append([_template_cell(page, value) for value in row])
        _formats(page, sheet, choices)
    return _saved(book)


def _formats(page: Any, sheet: Sheet, choices: Choices) -> None:
    """List validations, and each column's format for the rows a person adds: dates as dates,
    money in the organization's currency where it has one (a pre-filled amount carries its own
    legal entity's currency)."""
    last = max(page.max_row, 2) + 5000
    lists = {
        "Category": [c.value for c in ImpactCategory],
        "Scenario": ["plan", "forecast", "actual"],
        "Business unit": choices.business_units,
        "Legal entity": [code for code, _ in choices.legal_entities],
    }
    currencies = {currency for _, currency in choices.legal_entities}
    money = money_format(currencies.pop()) if len(currencies) == 1 else "#,##0.00"
    for i, column in enumerate(sheet.columns):
        letter = _letter(i)
        if lists.get(column.header):
            allowed = DataValidation(
                type="list",
                formula1='"' + ",".join(lists[column.header]) + '"',
                allow_blank=not column.required,
                showErrorMessage=True,
            )
            page.add_data_validation(allowed)
            allowed.add(f"{letter}2:{letter}{last}")
        if column.header in ("Plan start", "Month", "Planned date", "Done date"):
            page.column_dimensions[letter].number_format = "yyyy-mm-dd"
            for (cell,) in page.iter_rows(min_row=2, min_col=i + 1, max_col=i + 1):
                cell.number_format = "yyyy-mm-dd"
        elif column.header in ("Baseline amount", "Annual potential", "Amount"):
            page.column_dimensions[letter].number_format = money


def _template_cell(page: Any, value: Any) -> Any:
    if isinstance(value, Money):
        cell = Cell(page, value=value.amount)
        cell.number_format = money_format(value.currency)
        return cell
    return cell_value(value)


def cell_value(value: Any) -> Any:
    """`value` as a workbook cell may hold it: the control characters XML cannot carry (text
    typed anywhere may have them) become U+FFFD, so the file is written, not refused."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def money_format(currency: str) -> str:
    digits = minor_digits(currency)
    return ("#,##0." + "0" * digits if digits else "#,##0") + f' "{currency}"'


def _letter(index: int) -> str:
    return str(get_column_letter(index + 1))


def _saved(book: Workbook) -> bytes:
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def marked(content: bytes, problems: list[Problem]) -> bytes:
    """The uploaded workbook with each problem marked on its cell (red, with the reason as a
    comment), and a Problems sheet listing them all: to fix the file where it is wrong."""
    book = load_workbook(BytesIO(content))
    red = PatternFill(start_color="FFF4C7C3", end_color="FFF4C7C3", fill_type="solid")
    for problem in problems:
        if problem.sheet not in book.sheetnames or problem.row is None:
            continue
        page = book[problem.sheet]
        headers = [c.value for c in page[1]]
        column = headers.index(problem.column) + 1 if problem.column in headers else 1
        cell = page.cell(row=problem.row, column=column)
        cell.fill = red
        cell.comment = Comment(problem.message, "ValueGate")
    listing = book.create_sheet("Problems", 0)
    listing.append(["Sheet", "Row", "Column", "Value", "What is wrong"])
    for problem in problems:
        row = [problem.sheet, problem.row, problem.column, problem.value, problem.message]
        listing.append([cell_value(value) for value in row])
    listing.freeze_panes = "A2"
    return _saved(book)
