"""A recorded terminal session: the session page says so, and once it has ended its
recording replays in the browser (asciinema-player) with the commands typed."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import POLL_MS
from tests.integration.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_a_recorded_terminal_session_replays_with_the_commands_typed(
    server, browser, admin, tmp_path
):
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "recorded-shell",
            "display_name": "Recorded shell",
            "image": "moorage/terminal:latest",
            "recording": True,
            "record_input": True,
        },
    )
    assert created.status_code in (201, 409), created.text  # 409: a rerun on the same database
    session = (await admin.post("/api/v1/sessions", json={"template": "recorded-shell"})).json()
    assert session["recorded"] is True, session
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await page.goto(f"{server.base_url}/login")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(re.compile(r"/$"))
        await page.goto(f"{server.base_url}/sessions/{session['id']}")
        assert await page.locator("#recorded-badge").is_visible()
        await page.wait_for_function(
            "() => document.getElementById('terminal-status').textContent === 'connected'",
            polling=POLL_MS,
        )
        await page.click("#terminal")
        await page.keyboard.type("echo replay-$((40+2)) && uname -s\n")
        await page.wait_for_function(
            "() => Array.from({length: window.moorageTerminal.buffer.active.length}, (_, i) =>"
            " window.moorageTerminal.buffer.active.getLine(i).translateToString()).join('\\n')"
            ".includes('replay-42')",
            polling=POLL_MS,
        )
        ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
        assert ended.json()["end_reason"] == "owner"

        deadline = time.monotonic() + 15
        while True:
            rows = (await admin.get(f"/api/v1/recordings?session={session['id']}")).json()
            if rows and rows[0]["ended_at"]:
                break
            assert time.monotonic() < deadline, rows
            await page.wait_for_timeout(250)
        (recording,) = rows

        # Listed on the session's page, played on its own.
        await page.goto(f"{server.base_url}/sessions/{session['id']}")
        await page.click(f"[data-recording='{recording['id']}'] >> text=Play")
        await page.wait_for_url(re.compile(rf"/recordings/{recording['id']}$"))
        await page.wait_for_function(
            "() => { const t = document.querySelector('.ap-term-text'); return t &&"
            " t.textContent.includes('echo replay-$((40+2)) && uname -s') &&"
            " t.textContent.includes('replay-42') && t.textContent.includes('Linux'); }",
            polling=POLL_MS,
        )
        await page.screenshot(path=str(tmp_path / "recording.png"))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{server.base_url}/admin/recordings?q=replay-42")
        assert await page.locator(f"[data-recording='{recording['id']}']").count() == 1
        assert not errors, errors
    finally:
        await page.close()
