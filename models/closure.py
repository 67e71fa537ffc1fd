"""Controller-backed closure: the verified figures and the rules they must satisfy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from models.criteria import MeasureSnapshot, horizon
from models.money import Amount, ImpactCategory, amount_problem, ebitda_effect


class VerifiedFigure(BaseModel):
    impact_line_id: int
    period: date
    amount: Amount


class VerifiedFigures(BaseModel):
    """What the controller confirms to close a measure."""

    figures: list[VerifiedFigure] = Field(min_length=1)
    evidence_ref: str = Field(min_length=1, max_length=500)
    comment: str = Field(default="", max_length=2000)


class ClosureProblem(BaseModel):
    field: str
    message: str


_SIGN = {
    ImpactCategory.COST_REDUCTION: (1, "a cost reduction is not negative"),
    ImpactCategory.REVENUE_INCREASE: (1, "a revenue increase is not negative"),
    ImpactCategory.ONE_TIME_COST: (-1, "a one-time cost is entered as a negative amount"),
    ImpactCategory.CAPEX: (-1, "capex is entered as a negative amount"),
}


def shortfall(verified: VerifiedFigures, snapshot: MeasureSnapshot) -> Decimal | None:
    """How far the verified EBITDA effect falls short of plan over the same lines and periods,
    as a share of plan (0.1 = 10 % short); None without a positive plan to compare with."""
    categories = {line.id: line.category for line in snapshot.lines}
    plan = {(line.id, v.period): v.amount for line in snapshot.lines for v in line.plan}
    planned = achieved = Decimal(0)
    for figure in verified.figures:
        category = categories.get(figure.impact_line_id)
        if category is None:
            continue
        planned += ebitda_effect(
            category, plan.get((figure.impact_line_id, figure.period), Decimal(0))
        )
        achieved += ebitda_effect(category, figure.amount)
    if planned <= 0:
        return None
    return max(Decimal(0), (planned - achieved) / planned)


def closure_problems(
    verified: VerifiedFigures, snapshot: MeasureSnapshot, tolerance: Decimal
) -> list[ClosureProblem]:
    """Everything wrong with the verified figures; empty when they can close the measure."""
    problems: list[ClosureProblem] = []
    lines = {line.id: line for line in snapshot.lines}
    months = set(horizon(snapshot))
    seen: set[tuple[int, date]] = set()
    for i, figure in enumerate(verified.figures):
        where = f"figures[{i}]"
        line = lines.get(figure.impact_line_id)
        if line is None:
            problems.append(
                ClosureProblem(
                    field=f"{where}.impact_line_id", message="not an impact line of this measure"
                )
            )
            continue
        if figure.period not in months:
            problems.append(
                ClosureProblem(
                    field=f"{where}.period",
                    message="outside the plan horizon (use the first day of a plan month)",
                )
            )
        if (figure.impact_line_id, figure.period) in seen:
            problems.append(
                ClosureProblem(field=where, message="this line and period are given twice")
            )
        seen.add((figure.impact_line_id, figure.period))
        if snapshot.currency and (problem := amount_problem(figure.amount, snapshot.currency)):
            problems.append(ClosureProblem(field=f"{where}.amount", message=problem))
        sign, rule = _SIGN[line.category]
        if figure.amount * sign < 0:
            problems.append(ClosureProblem(field=f"{where}.amount", message=rule))
    short = shortfall(verified, snapshot)
    if short is not None and short > tolerance and not verified.comment.strip():
        problems.append(
            ClosureProblem(
                field="comment",
                message=f"verified figures are {short:.1%} short of plan "
                f"(tolerance {tolerance:.0%}): explain the shortfall",
            )
        )
    return problems
