"""Browser fixtures: the real product in real Chromium.

``live`` runs the web app as a uvicorn subprocess on a free loopback port
against the session's Temporal dev server, a worker in this process, a seeded
SQLite file and the loopback SMTP server. ``page`` is a fresh headless Debian
Chromium page driven by Playwright. Everything is stopped by the fixture that
started it, the web server by its process id.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tenderdesk.config import ROOT
from tenderdesk.demo.seed import seed_demo

from ..conftest import Running, SmtpServer, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LINK_RE = re.compile(r"(http://127\.0\.0\.1:\d+/t/[A-Za-z0-9_-]{40,})")
PASSWORD = "Elbe-Demo-2026!"
BACKOFFICE = "anna.berger@tenderdesk.example"
BROKER = "thomas.meier@example.com"


@dataclass
class Live:
    run: Running
    base_url: str
    smtp: SmtpServer

    def links_to(self, address: str) -> list[str]:
        """Insurer links from the captured emails to ``address``, oldest first."""
        found = []
        for message in self.smtp.capture.to(address):
            body = message.get_body(preferencelist=("plain",))
            if body is not None:
                found += LINK_RE.findall(body.get_content())
        return found


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"web server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("web server did not start")


@pytest.fixture
def live_server(ts_free_dev: Running, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    run = ts_free_dev
    seed_demo(run.engine, run.settings, requests=6)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    run.settings.base_url = base_url
    s = run.settings
    env = dict(
        os.environ,
        DATABASE_URL=s.database_url,
        TEMPORAL_ADDRESS=run.client.service_client.config.target_host,
        TEMPORAL_NAMESPACE=run.client.namespace,
        TEMPORAL_TASK_QUEUE=run.task_queue,
        WORKFLOW_ID_PREFIX=s.workflow_id_prefix,
        SMTP_HOST=s.smtp_host,
        SMTP_PORT=str(s.smtp_port),
        STORAGE_DIR=str(s.storage_dir),
        BASE_URL=base_url,
        SECRET_KEY=s.secret_key,
    )
    log = (tmp_path / "web.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "web.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--timeout-graceful-shutdown", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"{base_url}/login", proc)
        yield Live(run, base_url, smtp_server)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
async def ts_free_dev(dev_env: object, sqlite_engine: object, sqlite_settings: object) -> AsyncIterator[Running]:
    """The dev-server worker on SQLite only (the browser tests need one file both
    processes share)."""
    from ..conftest import _running

    async for running in _running(dev_env, sqlite_engine, sqlite_settings):  # type: ignore[arg-type]
        yield running


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium package (make test does)")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="de-DE", viewport={"width": 1360, "height": 900})
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def log_in(page: Page, live: Live, email: str, password: str = PASSWORD) -> None:
    await page.goto(f"{live.base_url}/login")
    await page.get_by_label("E-Mail").fill(email)
    await page.get_by_label("Passwort", exact=True).fill(password)
    await page.get_by_role("button", name=re.compile("Anmelden")).click()
    await page.wait_for_url(re.compile(r"/(\?.*)?$"))
