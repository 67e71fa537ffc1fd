"""Record the history of a measure workflow run for the replay tests.

Usage: .venv/bin/python -m tests.record_history NAME   (drives the scenario named NAME)
Histories are committed under tests/histories/; the replay test replays every one of them with
the current workflow code, so a change that would break running measures fails CI.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHandle

HISTORIES = Path(__file__).parent / "histories"


async def save(handle: WorkflowHandle, name: str) -> Path:  # type: ignore[type-arg]
    """Write the workflow's full history as tests/histories/<name>.json."""
    history = await handle.fetch_history()
    path = HISTORIES / f"{name}.json"
    path.write_text(history.to_json())
    return path
