"""Real headless Chromium against the app served over HTTP, driven by Playwright (which drives
the browser that is there and downloads nothing). Debian's `chromium` is installed by `.ci/run`;
axe-core comes from the npm registry (`npm ci --prefix tests/browser`, in the README's test
command). Where either is absent the browser tests are skipped, saying why."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Settings
from tests.support import free_port, served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags this machine needs: no sandbox as root, nothing reaching out to Google's services.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and CHROMIUM is None:
            item.add_marker(
                pytest.mark.skip(
                    reason="Chromium is not installed (Debian: apt-get install chromium); "
                    ".ci/run installs it"
                )
            )


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def public_base_url(port: int) -> str:
    """The real server the browser uses (the links in emails point there)."""
    return f"http://127.0.0.1:{port}"


@pytest_asyncio.fixture(loop_scope="session")
async def server(
    settings: Settings, engine: AsyncEngine, temporal_env: WorkflowEnvironment, port: int
) -> AsyncIterator[str]:
    """The app served over real HTTP on a free port, as uvicorn serves it in production."""
    app = create_app(settings, engine=engine, temporal=temporal_env.client)
    async with served(app, port) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium; each test opens its own contexts (one per person)."""
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
