"""The import from a browser: the admin uploads a workbook, reads the dry run's report, applies
the file unfixed and sees it refused, uploads the fixed file and finds the measures in the list."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.import_sheets import FIGURES
from tests.conftest import READER_PASSWORD
from tests.factories import add_person, make_org
from tests.test_imports import XLSX, _openpyxl_file, _organization_of, _sheets

pytestmark = pytest.mark.usefixtures("worker")


async def test_an_admin_checks_fixes_and_applies_a_workbook_in_the_browser(
    server: str, sessions: async_sessionmaker[AsyncSession], chromium: Any
) -> None:
    org = await make_org(sessions)
    await _organization_of(sessions, org)
    await add_person(
        sessions,
        email="ada.admin@acme.example",
        name="Ada Admin",
        password=READER_PASSWORD,
        admin=True,
    )
    wrong = _sheets(org)
    wrong[FIGURES.name][0][4] = "1.234,56"
    page = await (await chromium.new_context()).new_page()
    await page.goto(f"{server}/sign-in?next=/imports")
    await page.fill('input[name="email"]', "ada.admin@acme.example")
    await page.fill('input[name="password"]', READER_PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(f"{server}/imports")

    async def upload(content: bytes, button: str) -> str:
        file = {"name": "programme.xlsx", "mimeType": XLSX, "buffer": content}
        await page.set_input_files('input[name="file"]', files=[file])
        await page.click(f'button:has-text("{button}")')
        await page.wait_for_load_state()
        return " ".join((await page.locator("#report").inner_text()).split())

    checked = await upload(_openpyxl_file(wrong), "Check the file")
    assert "1 problem: nothing was written" in checked
    assert "Monthly figures 2 Amount 1.234,56" in checked
    refused = await upload(_openpyxl_file(wrong), "Apply it")
    assert "1 problem: nothing was written" in refused
    applied = await upload(_openpyxl_file(_sheets(org)), "Apply it")
    assert applied.startswith("Imported")

    await page.click('a:has-text("See the measures")')
    await page.wait_for_load_state()
    listing = await page.content()
    assert "Retire the tape library" in listing and "Consolidate backups" in listing
