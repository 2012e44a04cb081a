"""The browser reaches the product: login and the dashboard in real Chromium."""

from __future__ import annotations

from playwright.async_api import Page, expect

from .conftest import BACKOFFICE, Live, log_in


async def test_login_shows_manual_requests(page: Page, live_server: Live) -> None:
    await log_in(page, live_server, BACKOFFICE)
    await expect(page.get_by_role("heading", name="Manuelle Anfragen")).to_be_visible()
    await expect(page.locator("table")).to_contain_text("MA-2026-")
