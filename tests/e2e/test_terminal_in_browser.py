"""A person's path: log in, launch debian-shell, type in the terminal, end the session."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import POLL_MS, confirm_in_modal
from tests.integration.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_login_launch_type_and_end(server, browser, admin, tmp_path):
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await page.goto(f"{server.base_url}/")
        await page.wait_for_url(re.compile(r"/login"))
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("[data-template=debian-shell]")

        await page.click("[data-template=debian-shell] button[type=submit]")
        await page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
        await page.wait_for_selector("#terminal .xterm")
        await page.wait_for_function(
            "() => document.getElementById('terminal-status').textContent === 'connected'",
            polling=POLL_MS,
        )
        countdown = await page.text_content("#time-left")
        assert re.match(r"^\d+:\d\d(:\d\d)?$", countdown or ""), countdown

        await page.click("#terminal")
        await page.keyboard.type("echo browser-$((20+22))\n")
        await page.wait_for_function(
            "() => window.moorageTerminal.buffer.active.getLine(0) !== undefined && "
            "Array.from({length: window.moorageTerminal.buffer.active.length}, (_, i) => "
            "window.moorageTerminal.buffer.active.getLine(i).translateToString()).join('\\n')"
            ".includes('browser-42')",
            polling=POLL_MS,
        )
        await page.screenshot(path=str(tmp_path / "terminal.png"))

        await page.click("#end-session")
        await confirm_in_modal(page)
        await page.wait_for_url(f"{server.base_url}/")
        session_id = None
        rows = (await admin.get("/api/v1/sessions")).json()
        session_id = rows[0]["id"]
        assert rows[0]["state"] == "released", rows[0]
        assert await page.locator(f"tr[data-session='{session_id}']").count() == 0
    finally:
        await page.close()


async def test_the_session_list_updates_live_without_reload(server, browser, admin):
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(15_000)
    try:
        await page.goto(f"{server.base_url}/login")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("[data-template=debian-shell]")
        launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
        row = page.locator(f"tr[data-session='{launched.json()['id']}']")
        await row.wait_for(state="visible")
        assert "ready" in await row.inner_text()
        await admin.delete(f"/api/v1/sessions/{launched.json()['id']}")
        await row.wait_for(state="detached")
    finally:
        await page.close()
