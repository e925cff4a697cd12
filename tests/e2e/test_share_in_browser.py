"""Sharing a desktop in Chromium: the owner shares it read-only, the observer sees it
change and cannot type into it (neither through noVNC nor with raw RFB key events
sent on its socket); a peer link lets a second person type; revoking closes both."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.conftest import CANVAS_COLOURS, POLL_MS, record_desktop_status, wait_for_desktop
from tests.integration.conftest import session_containers
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

CANVAS_SUM = """() => {
    const c = document.querySelector('#screen canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4 * 7) sum = (sum * 31 + d[i] + d[i + 1] * 3) % 1000000007;
    return sum;
}"""

# Key events (RFB type 4) for a line of text, written straight on noVNC's socket: what
# a modified client would send, bypassing its view-only mode.
RAW_KEYS = """(text) => {
    const bytes = [];
    for (const ch of text) {
      const keysym = ch === '\\n' ? 0xff0d : ch.charCodeAt(0);
      for (const down of [1, 0])
        bytes.push(4, down, 0, 0, 0, 0, (keysym >> 8) & 255, keysym & 255);
    }
    window.moorageRfb._sock.sQpushBytes(new Uint8Array(bytes));
    window.moorageRfb._sock.flush();
}"""


async def _exists(docker, session_id: str, path: str) -> bool:
    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session_id
    ]
    exec_ = await container.exec(["test", "-e", path])
    async with exec_.start(detach=False) as stream:
        while await stream.read_out() is not None:
            pass
    return (await exec_.inspect())["ExitCode"] == 0


async def _eventually_exists(docker, session_id: str, path: str, seconds: float = 20) -> bool:
    for _ in range(int(seconds / 0.25)):
        if await _exists(docker, session_id, path):
            return True
        await asyncio.sleep(0.25)
    return False


async def _create_link(page, role: str) -> str:
    await page.select_option("#share-role", role)
    await page.click("#share-create")
    url = page.locator("#share-url")
    made = f"New {role} link"
    await page.wait_for_function(
        f"() => (document.querySelector('#share-new') || {{}}).textContent?.includes('{made}')",
        polling=POLL_MS,
    )
    return await url.input_value()


async def _open_link(browser, url: str, name: str):
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    await record_desktop_status(page)
    await page.goto(url)
    await page.fill("#display_name", name)
    await page.click("#share-open")
    await page.wait_for_url(re.compile(r"/shared/[0-9a-f-]{36}$"))
    await wait_for_desktop(page)
    await page.wait_for_function(CANVAS_COLOURS, polling=POLL_MS)
    return context, page


async def _closed_out(page) -> None:
    await page.wait_for_function(
        "() => !document.getElementById('shared-ended').classList.contains('d-none')",
        polling=POLL_MS,
    )
    assert "revoked" in await page.inner_text("#shared-ended")
    assert await page.inner_text("#desktop-status") == "disconnected"


async def test_an_owner_shares_a_desktop_read_only_a_peer_types_and_revoking_closes_both(
    server, browser, admin, docker
):
    made = await admin.post(
        "/api/v1/templates",
        json={
            "name": "share-desktop-ui",
            "display_name": "Shared desktop",
            "kind": "vnc",
            "image": "moorage/desktop:latest",
            "memory_limit_mb": 1024,
        },
    )
    assert made.status_code in (201, 409), made.text
    owner_context = await browser.new_context(viewport={"width": 1366, "height": 900})
    owner = await owner_context.new_page()
    owner.set_default_timeout(30_000)
    await record_desktop_status(owner)
    guests = []
    try:
        await owner.goto(f"{server.base_url}/login")
        await owner.fill("#username", "admin")
        await owner.fill("#password", ADMIN_PASSWORD)
        await owner.click("button[type=submit]")
        await owner.click("[data-template=share-desktop-ui] button[type=submit]")
        await owner.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
        session_id = owner.url.rsplit("/", 1)[1]
        await wait_for_desktop(owner)
        await owner.wait_for_function(CANVAS_COLOURS, polling=POLL_MS)
        canvas = owner.locator("#screen canvas")
        box = await canvas.bounding_box()
        assert box is not None
        # The owner puts the focus in the desktop's terminal (top left).
        await owner.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)

        # Read-only: the observer sees the desktop, and sees it change.
        observer_url = await _create_link(owner, "observer")
        assert "/share/msh_" in observer_url
        observer_context, observer = await _open_link(browser, observer_url, "Olga")
        guests.append(observer_context)
        assert await observer.inner_text("#shared-role") == "observer"
        before = await observer.evaluate(CANVAS_SUM)
        # Back in the desktop (the sharing form had the focus), the owner types.
        await owner.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
        await owner.keyboard.type("echo the owner typed this line for everyone\n", delay=20)
        await observer.wait_for_function(f"() => ({CANVAS_SUM})() !== {before}", polling=POLL_MS)

        # It cannot type: not through noVNC (view only), nor with raw key events.
        screen = await observer.locator("#screen canvas").bounding_box()
        assert screen is not None
        await observer.mouse.click(
            screen["x"] + screen["width"] * 0.2, screen["y"] + screen["height"] * 0.3
        )
        await observer.keyboard.type("touch /tmp/observer-typed\n", delay=20)
        await observer.evaluate(RAW_KEYS, "touch /tmp/observer-raw\n")

        # A peer link lets a second person type.
        peer_url = await _create_link(owner, "peer")
        peer_context, peer = await _open_link(browser, peer_url, "Pia")
        guests.append(peer_context)
        assert await peer.inner_text("#shared-role") == "peer"
        screen = await peer.locator("#screen canvas").bounding_box()
        assert screen is not None
        await peer.mouse.click(
            screen["x"] + screen["width"] * 0.2, screen["y"] + screen["height"] * 0.3
        )
        await peer.keyboard.type("touch /tmp/peer-typed\n", delay=20)
        assert await _eventually_exists(docker, session_id, "/tmp/peer-typed")
        # The observer's lines, typed well before, never arrived.
        assert not await _exists(docker, session_id, "/tmp/observer-typed")
        assert not await _exists(docker, session_id, "/tmp/observer-raw")

        # The owner sees both, with their roles.
        for who, role in (("Olga", "observer"), ("Pia", "peer")):
            await owner.locator(f"#connected-now [data-who={who}][data-role={role}]").wait_for()

        # Revoking closes both at once.
        for role in ("observer", "peer"):
            button = owner.locator(f"#share-links tr[data-role={role}] [data-revoke-link]")
            await button.click()
            await button.wait_for(state="detached")
        await _closed_out(observer)
        await _closed_out(peer)
        await owner.wait_for_function(
            "() => !document.querySelector('#connected-now [data-who=Olga], "
            "#connected-now [data-who=Pia]')",
            polling=POLL_MS,
        )
        assert await owner.locator("#share-links [data-state=revoked]").count() == 2
        await admin.delete(f"/api/v1/sessions/{session_id}")
    finally:
        for context in guests:
            await context.close()
        await owner_context.close()
