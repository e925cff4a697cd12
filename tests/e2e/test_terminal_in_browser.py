"""A person's path: log in, launch debian-shell, type in the terminal, end the session;
and the terminal's shell surviving "+30 min", a page refresh and a dropped connection."""

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

        session_id = page.url.rsplit("/", 1)[1]
        await page.click("#end-session")
        await confirm_in_modal(page)
        # The page says how it ended ("ending…" first, while the container goes) and
        # offers to launch the template again.
        await page.wait_for_function(
            "() => /ended at (\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d(:\\d\\d)?"
            " \\(ended by you\\)/.test("
            "((document.getElementById('session-ended-text') || {}).textContent || '')"
            ".replace(/\\s+/g, ' '))",
            polling=POLL_MS,
        )
        assert await page.locator("#launch-again").is_visible()
        assert await page.locator("#end-session").count() == 0
        row = (await admin.get(f"/api/v1/sessions/{session_id}")).json()
        assert row["state"] == "released", row
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


async def sign_in(page, base_url: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("[data-template=debian-shell]")


SCREEN = (
    "Array.from({length: window.moorageTerminal.buffer.active.length}, (_, i) => "
    "window.moorageTerminal.buffer.active.getLine(i).translateToString(true)).join('\\n')"
)


async def wait_for_output(page, text: str) -> None:
    """Wait until the terminal's screen (with its scrollback) shows ``text``."""
    await page.wait_for_function(
        f"() => window.moorageTerminal && ({SCREEN}).includes({text!r})", polling=POLL_MS
    )


async def wait_connected(page) -> None:
    await page.wait_for_function(
        "() => document.getElementById('terminal-status').textContent === 'connected'",
        polling=POLL_MS,
    )


async def test_the_shell_survives_extending_reloading_and_a_dropped_connection(
    server, browser, admin, tmp_path
):
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await sign_in(page, server.base_url)
        await page.click("[data-template=debian-shell] button[type=submit]")
        await page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
        session_id = page.url.rsplit("/", 1)[1]
        await wait_connected(page)
        await page.click("#terminal")
        await page.keyboard.type("export MOORAGE_T=42\n")

        # +30 min: the deadline moves in place, nothing reloads, the shell is the same.
        before = (await admin.get(f"/api/v1/sessions/{session_id}")).json()["expires_at"]
        await page.evaluate("() => { window.notReloaded = true; }")
        await page.click("#extend-session")
        message = page.locator("#alerts [data-session-message=success]")
        await message.wait_for(state="visible")
        assert "now ends at" in await message.inner_text()
        after = (await admin.get(f"/api/v1/sessions/{session_id}")).json()["expires_at"]
        assert after > before
        assert await page.evaluate("() => window.notReloaded === true")
        await page.click("#terminal")
        await page.keyboard.type("echo v=$MOORAGE_T.\n")
        await wait_for_output(page, "v=42.")

        # A page refresh: the output is replayed and the variable is still there.
        await page.reload()
        await wait_connected(page)
        await wait_for_output(page, "v=42.")
        await page.screenshot(path=str(tmp_path / "replayed.png"))
        await page.click("#terminal")
        await page.keyboard.type("echo w=$MOORAGE_T.\n")
        await wait_for_output(page, "w=42.")

        # A dropped connection: the page says it reconnects, then resumes without repeats.
        await page.evaluate("() => window.moorageTerminalLink.socket().close(4000, 'blip')")
        await page.wait_for_function(
            "() => /reconnecting in \\d+ s/.test("
            "document.getElementById('terminal-status').textContent)",
            polling=POLL_MS,
        )
        await wait_connected(page)
        await page.click("#terminal")
        await page.keyboard.type("echo u=$MOORAGE_T.\n")
        await wait_for_output(page, "u=42.")
        screen = await page.evaluate(f"() => {SCREEN}")
        assert screen.count("w=42.") == 1, screen
    finally:
        await page.close()
