"""Stop and Start from the session page, in Chromium: the terminal goes, the page
says the session is stopped and when it still ends, and Start brings the same
shell's disk back with a working terminal."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import POLL_MS
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def sign_in(page, base_url: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/")


async def wait_connected(page) -> None:
    await page.wait_for_function(
        "() => document.getElementById('terminal-status').textContent === 'connected'",
        polling=POLL_MS,
    )


async def wait_for_output(page, text: str) -> None:
    await page.wait_for_function(
        "(text) => document.querySelector('#terminal .xterm-rows').textContent.includes(text)",
        arg=text,
        polling=POLL_MS,
    )


async def test_stop_then_start_from_the_session_page_keeps_the_files(
    server, browser, admin, tmp_path
):
    launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    session_id = launched.json()["id"]
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(30_000)
    try:
        await sign_in(page, server.base_url)
        await page.goto(f"{server.base_url}/sessions/{session_id}")
        await wait_connected(page)
        await page.click("#terminal")
        await page.keyboard.type("echo kept-$((6*7)) > ~/note && cat ~/note\n")
        await wait_for_output(page, "kept-42")

        await page.click("#stop-session")
        await page.locator("#session-stopped").wait_for(state="visible")
        assert await page.text_content("#session-state") == "stopped"
        assert not await page.locator("#terminal").count()
        assert await page.locator("#start-session").is_visible()
        assert "its files are kept" in (await page.inner_text("#session-stopped"))
        await page.screenshot(path=str(tmp_path / "stopped.png"))
        assert (await admin.get(f"/api/v1/sessions/{session_id}")).json()["state"] == "stopped"

        await page.click("#start-session")
        await page.locator("#terminal").wait_for(state="visible", timeout=60_000)
        await wait_connected(page)
        assert await page.text_content("#session-state") == "ready"
        await page.click("#terminal")
        await page.keyboard.type("cat ~/note | tr k K\n")
        await wait_for_output(page, "Kept-42")
        await page.screenshot(path=str(tmp_path / "started.png"))
    finally:
        await page.close()
        await admin.delete(f"/api/v1/sessions/{session_id}")
