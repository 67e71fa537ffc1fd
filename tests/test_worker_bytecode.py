"""The worker keeps the workflow modules' bytecode, which its sandbox reads for every workflow
instance it creates."""

from __future__ import annotations

import importlib.util
import marshal
from pathlib import Path

from valuegate.worker import compile_workflow_modules
from workflows import measure

HEADER_BYTES = 16  # magic number, flags, source mtime, source size (PEP 552)


def test_the_worker_writes_the_bytecode_of_the_modules_its_sandbox_imports_afresh() -> None:
    source = Path(measure.__file__)
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.unlink(missing_ok=True)

    assert compile_workflow_modules()

    data = cached.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER  # this interpreter's, so imports take it
    assert int.from_bytes(data[8:12], "little") == int(source.stat().st_mtime)  # not stale
    code = marshal.loads(data[HEADER_BYTES:])
    assert "MeasureWorkflow" in code.co_names
