"""Every recorded history replays on the current workflow code: a change that would break
measures already running fails here, not in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from valuegate.worker import WORKFLOWS

# Every recorded history, also those of earlier workflow versions in subfolders.
FOLDER = Path(__file__).parent / "histories"
HISTORIES = sorted(FOLDER.rglob("*.json"))


def test_there_are_recorded_histories() -> None:
    assert HISTORIES, "no recorded histories under tests/histories"


@pytest.mark.parametrize(
    "path", HISTORIES, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in HISTORIES]
)
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
