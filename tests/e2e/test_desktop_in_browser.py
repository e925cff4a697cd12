"""noVNC in the session page shows the desktop, and typing reaches its terminal."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.conftest import POLL_MS, record_desktop_status, wait_for_desktop
from tests.integration.conftest import session_containers
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_novnc_shows_the_desktop_and_typing_works(server, browser, admin, docker):
    await admin.post(
        "/api/v1/templates",
        json={
            "name": "desktop-ui",
            "display_name": "Desktop",
            "kind": "vnc",
            "image": "moorage/desktop:latest",
            "memory_limit_mb": 1024,
        },
    )
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    await record_desktop_status(page)
    try:
        await page.goto(f"{server.base_url}/login")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.click("[data-template=desktop-ui] button[type=submit]")
        await page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
        session_id = page.url.rsplit("/", 1)[1]
        await wait_for_desktop(page)
        canvas = page.locator("#screen canvas")
        await canvas.wait_for()
        # Wait until the canvas shows more than the background (the terminal window).
        await page.wait_for_function(
            """() => {
            const c = document.querySelector('#screen canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < d.length && seen.size < 20; i += 4 * 97)
              seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
            return seen.size >= 3;
        }""",
            polling=POLL_MS,
        )
        box = await canvas.bounding_box()
        assert box and box["width"] > 300
        # Click inside the terminal window (top left of the desktop) and type a command.
        await page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
        await page.keyboard.type("touch /tmp/typed-in-the-browser\n", delay=20)
        (container,) = [
            c
            for c in await session_containers(docker)
            if c._container["Labels"]["moorage.session"] == session_id
        ]
        for _ in range(50):
            exec_ = await container.exec(["test", "-e", "/tmp/typed-in-the-browser"])
            async with exec_.start(detach=False) as stream:
                while await stream.read_out() is not None:
                    pass
            if (await exec_.inspect())["ExitCode"] == 0:
                break
            await asyncio.sleep(0.2)
        assert (await exec_.inspect())["ExitCode"] == 0

        # A dropped connection (its websocket closed under noVNC) is opened again by
        # the page, onto the same desktop.
        await page.evaluate("() => { window.__firstRfb = window.moorageRfb; }")
        await page.evaluate("() => window.moorageRfb._sock.close()")
        await page.wait_for_function(
            "() => window.moorageRfb !== window.__firstRfb"
            " && document.getElementById('desktop-status').textContent === 'connected'",
            polling=POLL_MS,
        )
        history = await page.evaluate("() => window.__statusHistory.map((h) => h[1])")
        assert any(h.startswith("disconnected; reconnecting in") for h in history), history
        await admin.delete(f"/api/v1/sessions/{session_id}")
    finally:
        await page.close()
