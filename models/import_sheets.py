"""The import workbook's layout, and how one cell becomes a value: the sheets and their columns,
and the parsers that refuse what a spreadsheet gets wrong (amounts as German text, dates as text,
1e400, NaN, too many decimals), each with a sentence a person understands. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from models.money import ImpactCategory, Scenario, amount_problem


@dataclass(frozen=True)
class Column:
    header: str
    note: str
    required: bool = False


@dataclass(frozen=True)
class Sheet:
    name: str
    purpose: str
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


HIERARCHY = Sheet(
    "Hierarchy",
    "One row per measure package, with the portfolio, program and project above it. Missing "
    "levels are created; existing ones are matched by name.",
    (
        Column("Package key", "Your short name for the package, used on the Measures sheet.", True),
        Column("Portfolio", "Name of the portfolio.", True),
        Column("Program", "Name of the program in the portfolio.", True),
        Column("Project", "Name of the project in the program.", True),
        Column("Package", "Name of the measure package in the project.", True),
    ),
)
MEASURES = Sheet(
    "Measures",
    "One row per measure. Rows are matched by External id: the same file imported again changes "
    "nothing, a changed row changes the measure.",
    (
        Column("External id", "Your id of the measure (unique in the organization).", True),
        Column("Title", "3 to 200 characters.", True),
        Column("Package key", "A package key from the Hierarchy sheet.", True),
        Column("Owner email", "The owner's email (a person in ValueGate)."),
        Column("Sponsor email", "The sponsor's email."),
        Column("Controller email", "The controller's email; owner, sponsor and controller differ."),
        Column("Business unit", "A business unit code of the organization."),
        Column("Legal entity", "A legal entity code; its currency is the measure's."),
        Column("Plan start", "First month of the plan, as a date cell (any day of the month)."),
        Column("Horizon months", "Months in the plan, 1 to 120."),
        Column(
            "Baseline amount", "Today's annual cost or revenue, in the legal entity's currency."
        ),
        Column("Baseline period", "e.g. FY2026."),
        Column("Baseline source", "Where the baseline comes from."),
        Column("Description", "Free text."),
    ),
)
LINES = Sheet(
    "Impact lines",
    "One row per impact line of a measure.",
    (
        Column("Measure external id", "The measure's External id.", True),
        Column("Line key", "Your key of the line, unique within the measure.", True),
        Column("Category", "cost_reduction, revenue_increase, one_time_cost or capex.", True),
        Column("Description", "What the line is.", True),
        Column("Annual potential", "Estimated annual run-rate, legal entity's currency."),
    ),
)
FIGURES = Sheet(
    "Monthly figures",
    "One row per impact line, scenario and month. Plan, forecast and actual only: verified "
    "figures come from the controller's closure.",
    (
        Column("Measure external id", "The measure's External id.", True),
        Column("Line key", "The line's key from the Impact lines sheet.", True),
        Column("Scenario", "plan, forecast or actual.", True),
        Column("Month", "A date cell in the month (any day); within the plan horizon.", True),
        Column("Amount", "In the legal entity's currency, as a number cell.", True),
    ),
)
MILESTONES = Sheet(
    "Milestones",
    "One row per milestone, matched by measure and title.",
    (
        Column("Measure external id", "The measure's External id.", True),
        Column("Title", "The milestone.", True),
        Column("Planned date", "A date cell.", True),
        Column("Owner email", "Who delivers it (default: the measure's owner)."),
        Column("Done date", "A date cell, when it is done."),
    ),
)
SHEETS = (HIERARCHY, MEASURES, LINES, FIGURES, MILESTONES)


class Problem(BaseModel):
    """One thing wrong in the file: where it is, what it says, and why it cannot be taken."""

    sheet: str
    row: int | None = None  # the spreadsheet's row number (1 = the header)
    column: str | None = None  # the column's header
    value: str | None = None  # what the cell holds, as text
    message: str

    @property
    def cell(self) -> str:
        where = self.sheet
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f", {self.column}"
        return where


class CellError(ValueError):
    """A cell that cannot be taken; the message says why, for a person."""


_GERMAN = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$|^-?\d+,\d+$")


def text(value: Any, *, max_length: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        raise CellError("expected text, found a date")
    found = str(value).strip()
    if "\x00" in found:
        raise CellError("text may not contain the NUL character")
    if len(found) > max_length:
        raise CellError(f"at most {max_length} characters")
    return found or None


def amount(value: Any, currency: str) -> Decimal | None:
    """A money cell: a number (or plain decimal text) exact in `currency`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | datetime | date):
        raise CellError("expected an amount")
    if isinstance(value, float):
        # openpyxl hands numbers over as floats; the shortest repr is the text the file holds.
        found = Decimal(repr(value))
    elif isinstance(value, int | Decimal):
        found = Decimal(value)
    else:
        written = str(value).strip()
        if _GERMAN.match(written):
            raise CellError("write amounts with a decimal point and no thousands separator, "
                            "e.g. 1234.56")  # fmt: skip
        try:
            found = Decimal(written)
        except InvalidOperation as error:
            raise CellError("expected an amount such as 1234.56") from error
    if (problem := amount_problem(found, currency)) is not None:
        raise CellError(problem)
    # Readers hand whole numbers over as floats (12500.0): the amount is 12500.
    return found.quantize(Decimal(1)) if found == found.to_integral_value() else found


def whole_number(value: Any, *, low: int, high: int) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as error:
        raise CellError(f"expected a whole number from {low} to {high}") from error
    if not number.is_finite() or number != number.to_integral_value() or not low <= number <= high:
        raise CellError(f"expected a whole number from {low} to {high}")
    return int(number)


def day(value: Any) -> date | None:
    """A date cell (Excel's dates arrive as datetimes); text is refused, not guessed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise CellError("enter a date cell (Excel date format), not text or a number")


def month(value: Any) -> date | None:
    found = day(value)
    return found.replace(day=1) if found else None


def category(value: Any) -> ImpactCategory | None:
    found = text(value, max_length=40)
    if found is None:
        return None
    try:
        return ImpactCategory(found.lower())
    except ValueError as error:
        names = ", ".join(c.value for c in ImpactCategory)
        raise CellError(f"one of {names}") from error


def scenario(value: Any) -> Scenario | None:
    found = text(value, max_length=20)
    if found is None:
        return None
    if found.lower() == Scenario.VERIFIED.value:
        raise CellError("verified figures are never imported: they come from the closure")
    try:
        chosen = Scenario(found.lower())
    except ValueError as error:
        raise CellError("plan, forecast or actual") from error
    return chosen


def shown(value: Any) -> str | None:
    """A cell's content as the report shows it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)[:200]
