"""`valuegate worker --loop-check` counts the callbacks that held the worker's loop too long:
the lifecycle benchmark's check phase trusts that count and the slowest it names."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from valuegate import loop_check


def _block_the_loop() -> None:
    time.sleep(loop_check.SLOW_SECONDS * 2)  # a blocking call in async code: what is counted


async def _run_with_one_blocking_callback() -> loop_check.SlowCallbacks:
    found = loop_check.watch(asyncio.get_running_loop())
    await asyncio.sleep(0)  # a callback that yields at once is not counted
    asyncio.get_running_loop().call_soon(_block_the_loop)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return found


def test_a_callback_that_blocks_the_loop_is_counted_with_its_duration(tmp_path: Path) -> None:
    found = asyncio.run(_run_with_one_blocking_callback(), debug=True)
    loop_check.write(found, tmp_path / "loop.0")

    (read,) = loop_check.read_all(tmp_path / "loop")
    assert read.count == 1
    seconds, callback = read.slowest[0]
    assert seconds >= loop_check.SLOW_SECONDS * 2
    assert "_block_the_loop" in callback
