"""What a roll-up tells about a group of measures: how many, how much value in the group
currency, and both statuses (the API and the pages show this one shape)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field, computed_field

from models.stages import Stage
from models.status import NO_PLAN, NOTHING_TO_JUDGE, Light


class Rollup(BaseModel):
    currency: str = Field(description="The group currency every amount here is in.")
    measures: int = 0
    plan: Decimal = Decimal(0)
    achieved: Decimal = Field(
        default=Decimal(0), description="Actual where entered, else forecast (EBITDA effect)."
    )
    verified: Decimal = Decimal(0)
    delivery: Light = Light.NONE
    delivery_reason: str = Field(
        default=NOTHING_TO_JUDGE,
        description="The rule that decided `delivery`, with the shares it looked at.",
    )
    value: Light = Light.NONE
    value_reason: str = Field(
        default=NO_PLAN,
        description="The rule that decided `value`, with the share of plan achieved.",
    )
    by_delivery: dict[Light, int] = Field(default_factory=dict)
    by_value: dict[Light, int] = Field(default_factory=dict)
    missing_rates: list[str] = Field(
        default_factory=list,
        description="Currencies left out of the amounts because the organization has no rate.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def attainment(self) -> Decimal | None:
        """Achieved as a share of plan (None without a positive plan)."""
        return (self.achieved / self.plan).quantize(Decimal("0.0001")) if self.plan > 0 else None


class NodeRef(BaseModel):
    """One node of the hierarchy, or a measure."""

    level: str
    id: int
    name: str


class NodeRollup(NodeRef):
    rollup: Rollup


class NodeView(NodeRollup):
    """A node with the path above it and the nodes right below it, each rolled up."""

    path: list[NodeRef] = Field(default_factory=list, description="Root first.")
    children: list[NodeRollup]


class StageCount(BaseModel):
    stage: Stage
    measures: int
    plan: Decimal


class MatrixCell(BaseModel):
    delivery: Light
    value: Light
    measures: int
    plan: Decimal


class PeriodValues(BaseModel):
    period: date
    plan: Decimal
    achieved: Decimal
    verified: Decimal


class Dashboard(BaseModel):
    """A portfolio dashboard: totals, the pipeline by stage, the dual-status matrix and the
    EBITDA effect month by month, all in the group currency."""

    currency: str
    total: Rollup
    pipeline: list[StageCount]
    matrix: list[MatrixCell]
    months: list[PeriodValues]
    missing_rates: list[str]
