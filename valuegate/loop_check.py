"""Counting the callbacks that held an event loop too long, with asyncio's debug mode.

In debug mode asyncio logs a warning ("Executing <callback> took 0.152 seconds") for every
callback that ran longer than the loop's `slow_callback_duration`; this counts them."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

SLOW_SECONDS = 0.1


@dataclass
class SlowCallbacks:
    """How many callbacks held the loop longer than SLOW_SECONDS, and the slowest few (seconds,
    and which callback)."""

    count: int = 0
    slowest: list[tuple[float, str]] = field(default_factory=list)


class _Counter(logging.Handler):
    def __init__(self, found: SlowCallbacks) -> None:
        super().__init__(level=logging.WARNING)
        self.found = found

    def emit(self, record: logging.LogRecord) -> None:
        # asyncio logs "Executing %s took %.3f seconds" with the callback and its duration.
        if str(record.msg).startswith("Executing ") and isinstance(record.args, tuple):
            self.found.count += 1
            callback, seconds = record.args[0], float(record.args[-1])  # type: ignore[arg-type]
            slowest = [*self.found.slowest, (seconds, str(callback)[:240])]
            self.found.slowest = sorted(slowest, reverse=True)[:10]


def watch(loop: asyncio.AbstractEventLoop) -> SlowCallbacks:
    """Start counting the running loop's slow callbacks (the loop must be in debug mode)."""
    loop.slow_callback_duration = SLOW_SECONDS
    found = SlowCallbacks()
    logging.getLogger("asyncio").addHandler(_Counter(found))
    return found


def write(found: SlowCallbacks, report: Path) -> None:
    """Keep the count where a benchmark reads it."""
    report.write_text(json.dumps(asdict(found)))


def read_all(report: Path) -> list[SlowCallbacks]:
    """What every process that wrote `report`.0, `report`.1, ... found."""
    files = sorted(report.parent.glob(f"{report.name}.*"))
    found = [json.loads(path.read_text()) for path in files]
    return [
        SlowCallbacks(count=f["count"], slowest=[(s, what) for s, what in f["slowest"]])
        for f in found
    ]
