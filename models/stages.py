"""Stages of a measure (degree of implementation) and the order gates move through them."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    DEFINED = "defined"
    IDENTIFIED = "identified"
    DETAILED = "detailed"
    DECIDED = "decided"
    IMPLEMENTED = "implemented"
    CLOSED = "closed"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


GATE_ORDER: tuple[Stage, ...] = (
    Stage.DEFINED,
    Stage.IDENTIFIED,
    Stage.DETAILED,
    Stage.DECIDED,
    Stage.IMPLEMENTED,
    Stage.CLOSED,
)
TERMINAL_STAGES = frozenset({Stage.CLOSED, Stage.CANCELLED})


def next_stage(stage: Stage) -> Stage | None:
    """The stage the next gate leads to, or None when no gate follows."""
    if stage not in GATE_ORDER or stage is Stage.CLOSED:
        return None
    return GATE_ORDER[GATE_ORDER.index(stage) + 1]
