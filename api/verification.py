"""The controller's verification form — verified amounts per impact line and month, evidence,
comment — read the same way from the emailed link's page and from the measure's page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from api.templating import plain_error
from models.closure import ClosureProblem, VerifiedFigure, VerifiedFigures
from services.briefing import Briefing

AMOUNT_HINT = "Enter an amount such as 12500.00"


def field_name(line_id: int, period: date) -> str:
    """The form field of one line's verified amount in one month."""
    return f"v-{line_id}-{period:%Y-%m}"


def read(about: Briefing, form: dict[str, str]) -> tuple[VerifiedFigures | None, dict[str, str]]:
    """The verified figures the form holds, or None with what is wrong, keyed by field."""
    errors: dict[str, str] = {}
    figures = []
    for line in about.lines:
        for period in about.periods:
            name = field_name(line.id, period)
            raw = form.get(name, "").strip()
            if not raw:
                continue
            try:
                amount = Decimal(raw)
            except InvalidOperation:
                errors[name] = AMOUNT_HINT
                continue
            if not amount.is_finite():
                errors[name] = AMOUNT_HINT
                continue
            figures.append(VerifiedFigure(impact_line_id=line.id, period=period, amount=amount))
    evidence = form.get("evidence_ref", "").strip()
    if not evidence:
        errors["evidence_ref"] = "Give the evidence reference (e.g. the ledger export)."
    if not figures and not errors:
        errors["figures"] = "Enter the verified amount of at least one period."
    if errors:
        return None, errors
    comment = form.get("comment", "").strip()
    try:
        return VerifiedFigures(figures=figures, evidence_ref=evidence, comment=comment), {}
    except ValidationError as error:
        return None, _validation_errors(about, form, error)


def _validation_errors(
    about: Briefing, form: dict[str, str], error: ValidationError
) -> dict[str, str]:
    problems = []
    for problem in error.errors():
        where = problem["loc"]
        if where[0] == "figures" and len(where) > 1:
            field = f"figures[{where[1]}]"
        else:
            field = str(where[0])
        problems.append(ClosureProblem(field=field, message=plain_error({**problem, "loc": ()})))
    return figure_errors(about, form, problems)


def figure_errors(
    about: Briefing, form: dict[str, str], problems: list[ClosureProblem]
) -> dict[str, str]:
    """The workflow's problems with the figures, keyed by the form field they concern."""
    entered = [
        field_name(line.id, period)
        for line in about.lines
        for period in about.periods
        if form.get(field_name(line.id, period), "").strip()
    ]
    errors: dict[str, str] = {}
    for problem in problems:
        where = problem.field
        if where.startswith("figures["):
            index = int(where[len("figures[") : where.index("]")])
            errors[entered[index] if index < len(entered) else "figures"] = problem.message
        else:
            errors[where or "figures"] = problem.message
    return errors
