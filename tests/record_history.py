"""Recording workflow histories for the replay test.

Set VALUEGATE_RECORD_HISTORIES=1 and run the tests that call `keep`: each writes the history of
the path it drove to tests/histories/<name>.json. Commit them: the replay test replays every one
with the current workflow code, so a change that would break running measures fails CI.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import WorkflowHandle

HISTORIES = Path(__file__).parent / "histories"


async def save(handle: WorkflowHandle, name: str) -> Path:  # type: ignore[type-arg]
    """Write the workflow run's full history as tests/histories/<name>.json."""
    history = await handle.fetch_history()
    path = HISTORIES / f"{name}.json"
    path.write_text(history.to_json())
    return path


async def keep(handle: WorkflowHandle, name: str) -> None:  # type: ignore[type-arg]
    """Save the history when recording is switched on (VALUEGATE_RECORD_HISTORIES=1)."""
    if os.environ.get("VALUEGATE_RECORD_HISTORIES"):
        await save(handle, name)
