"""The small Pydantic models that travel through Temporal: workflow input, activity arguments,
query answers. Ids, codes and amounts only — never tokens or personal data."""

from __future__ import annotations

from pydantic import BaseModel

from models.stages import Stage
from models.status import Light


class MeasureFacts(BaseModel):
    """What the workflow and the Temporal UI need to know about a measure."""

    measure_id: int
    title: str
    stage: Stage
    portfolio_id: int
    legal_entity_id: int | None = None
    business_unit_id: int | None = None
    implementation_status: Light = Light.NONE
    potential_status: Light = Light.NONE


class MeasureStart(BaseModel):
    """The input of a measure's lifecycle workflow."""

    facts: MeasureFacts


class MeasureRef(BaseModel):
    """Names one measure to an activity."""

    measure_id: int


class LifecycleView(BaseModel):
    """The workflow's answer to "where is this measure now?"."""

    measure_id: int
    stage: Stage
