"""Expiry that warns, in Chromium: the last-minute warning and then the end of a short
session, the warning inside a full-screen desktop, and a web app framed under
Moorage's bar that says when it ended."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import POLL_MS, record_desktop_status, wait_for_desktop
from tests.integration.conftest import fresh_server  # noqa: F401
from tests.live_server import ADMIN_PASSWORD, free_port

pytestmark = pytest.mark.browser

SHORT = {
    "name": "short-shell",
    "display_name": "Short shell",
    "image": "moorage/terminal:latest",
    "default_duration_minutes": 1,
    "max_duration_minutes": 2,
}


async def sign_in(page, base_url: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/")


async def template(client, body: dict) -> None:
    created = await client.post("/api/v1/templates", json=body)
    assert created.status_code in (201, 409), created.text  # the server is shared


async def test_a_70_second_session_warns_in_its_last_minute_then_says_it_ended(
    server, browser, admin, tmp_path
):
    await template(admin, SHORT)
    launched = await admin.post(
        "/api/v1/sessions", json={"template": "short-shell", "duration_seconds": 70}
    )
    assert launched.status_code == 201, launched.text
    session_id = launched.json()["id"]
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(30_000)
    try:
        await sign_in(page, server.base_url)
        await page.goto(f"{server.base_url}/sessions/{session_id}")
        warning = page.locator("#expiry-warning")
        await warning.wait_for(state="visible")  # under 5 minutes from the start
        await page.wait_for_function(
            "() => document.getElementById('expiry-warning').dataset.level === '1'",
            polling=POLL_MS,
        )
        text = await warning.inner_text()
        assert re.search(r"Short shell ends in 0:[0-5]\d, at \d\d:\d\d\. Save your work now", text)
        assert "alert-danger" in (await warning.get_attribute("class") or "")
        # Less than a minute is left before the template's maximum: no "+ min" offered.
        assert not await warning.locator("[data-extend-minutes]").is_visible()
        await page.screenshot(path=str(tmp_path / "last-minute.png"))

        # "ending…" while its container is removed, then when and why.
        await page.wait_for_function(
            "() => /ended at (\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d(:\\d\\d)?"
            " \\(its time was up\\)/.test("
            "((document.getElementById('session-ended-text') || {}).textContent || '')"
            ".replace(/\\s+/g, ' '))",
            polling=POLL_MS,
            timeout=90_000,
        )
        assert not await page.locator("#session-actions").is_visible()
        assert not await warning.is_visible()
        assert await page.locator("#launch-again").is_visible()
        assert await page.text_content("#terminal-status") == "the session has ended"
        assert await page.text_content("#session-state") == "released"
        await page.screenshot(path=str(tmp_path / "ended.png"))

        # "Launch again" starts the same template and opens its page.
        await page.click("#launch-again")
        await page.wait_for_url(re.compile(rf"/sessions/(?!{session_id})[0-9a-f-]{{36}}$"))
        again = (await admin.get(f"/api/v1/sessions/{page.url.rsplit('/', 1)[1]}")).json()
        assert again["template"] == "short-shell" and again["state"] == "ready"
    finally:
        await page.close()


async def test_a_full_screen_desktop_shows_the_expiry_warning(server, browser, admin):
    desktop = {
        "name": "desktop-ui",
        "display_name": "Desktop",
        "kind": "vnc",
        "image": "moorage/desktop:latest",
        "memory_limit_mb": 1024,
    }
    await template(admin, desktop)
    launched = await admin.post(
        "/api/v1/sessions", json={"template": "desktop-ui", "duration_seconds": 240}
    )
    assert launched.status_code == 201, launched.text
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await record_desktop_status(page)
        await sign_in(page, server.base_url)
        await page.goto(f"{server.base_url}/sessions/{launched.json()['id']}")
        await wait_for_desktop(page)
        await page.click("#fullscreen")
        await page.wait_for_function(
            "() => document.fullscreenElement && document.fullscreenElement.id === 'screen'",
            polling=POLL_MS,
        )
        overlay = page.locator("#screen #screen-warning")
        await overlay.wait_for(state="visible")
        assert re.search(r"Desktop ends in [34]:\d\d", await overlay.inner_text())
        # It is drawn above the desktop's canvas, inside what is shown in full screen.
        on_top = await page.evaluate(
            """() => {
                const warning = document.getElementById('screen-warning');
                const box = warning.getBoundingClientRect();
                const x = box.x + box.width / 2, y = box.y + box.height / 2;
                return warning.contains(document.elementFromPoint(x, y));
            }"""
        )
        assert on_top
    finally:
        await page.close()


JUPYTER = {
    "name": "jupyter-test",
    "display_name": "Jupyter notebook",
    "kind": "http",
    "image": "moorage/jupyter:latest",
    "memory_limit_mb": 1024,
}


async def test_a_web_app_opens_framed_under_the_countdown_and_says_when_it_ended(
    fresh_server,  # noqa: F811
    browser,
    tmp_path,
):
    workspace_port = free_port()
    fresh_server.extra_env["MOORAGE_WORKSPACE_PORT"] = str(workspace_port)
    fresh_server.start(timeout=120)
    admin = await fresh_server.login()
    try:
        await template(admin, JUPYTER)
        launched = await admin.post("/api/v1/sessions", json={"template": "jupyter-test"})
        assert launched.status_code == 201, launched.text
        session_id = launched.json()["id"]
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(60_000)
        await sign_in(page, fresh_server.base_url)
        await page.goto(f"{fresh_server.base_url}/sessions/{session_id}")
        await page.click("#open-app")
        await page.wait_for_url(f"{fresh_server.base_url}/sessions/{session_id}/app")
        assert re.match(r"^\d+:\d\d(:\d\d)?$", await page.text_content("#time-left") or "")
        assert await page.get_attribute("#open-app-tab", "target") == "_blank"

        # Jupyter runs in the frame, on its own origin (its framing rule replaced by Moorage's).
        frame = page.frame_locator("#app-frame")
        await frame.locator("#notebook_list, #ipython-main-app").first.wait_for(state="attached")
        (app,) = [f for f in page.frames if f"/s/{session_id}/" in f.url]
        assert app.url.startswith(f"http://127.0.0.1:{workspace_port}/s/{session_id}/"), app.url
        await page.screenshot(path=str(tmp_path / "framed-app.png"))

        # +30 min from the bar, in place.
        await page.click("#extend-session")
        await page.locator("#alerts [data-session-message=success]").wait_for(state="visible")

        # Ended elsewhere: the page says so in place of the app.
        assert (await admin.delete(f"/api/v1/sessions/{session_id}")).status_code == 200
        await page.wait_for_function(
            "() => /ended at (\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d(:\\d\\d)?"
            " \\(ended by you\\)/.test("
            "((document.getElementById('session-ended-text') || {}).textContent || '')"
            ".replace(/\\s+/g, ' '))",
            polling=POLL_MS,
            timeout=30_000,
        )
        assert not await page.locator("#app-frame").is_visible()
        assert not await page.locator("#session-actions").is_visible()
        await page.close()
    finally:
        await admin.aclose()
