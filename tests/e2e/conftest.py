"""Browser tests drive Debian's chromium with Playwright against a real server."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

from tests.integration.conftest import admin, database_url, docker, server  # noqa: F401

CHROMIUM = "/usr/bin/chromium"

POLL_MS = 250
"""Interval of every ``page.wait_for_function``: its default polls on
``requestAnimationFrame``, and a headless page does not reliably get animation
frames (seen with chromium 156: a connected desktop read as stuck for 20 s)."""

# Chromium 156 treats headless pages as backgrounded: it throttles their timers
# (so an interval poll fired late and the desktop test timed out at 30 s although
# the page read `connected` after 1 s) and stops their animation frames.
BACKGROUND_THROTTLING_OFF = (
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    if not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} is missing; `make test` installs Debian's chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                *BACKGROUND_THROTTLING_OFF,
            ],
        )
        yield browser
        await browser.close()


async def confirm_in_modal(page, *, times: int = 1) -> None:
    """Answer Moorage's confirmation modal (not a browser pop-up) with its confirm
    button, ``times`` times in a row (an action may ask twice)."""
    modal = page.locator("#confirm-modal")
    for _ in range(times):
        await modal.wait_for(state="visible")
        await page.click("#confirm-ok")
        await modal.wait_for(state="hidden")


DESKTOP_STATUS_HISTORY = """document.addEventListener('DOMContentLoaded', () => {
    const el = document.getElementById('desktop-status');
    if (!el) return;
    window.__statusHistory = [[Math.round(performance.now()), el.textContent]];
    new MutationObserver(() => window.__statusHistory.push(
        [Math.round(performance.now()), el.textContent])).observe(
        el, {childList: true, characterData: true, subtree: true});
});"""


async def record_desktop_status(page) -> None:
    """Keep every change of the page's ``#desktop-status`` with its time (ms since
    navigation) in ``window.__statusHistory``; call before going to the page."""
    await page.add_init_script(DESKTOP_STATUS_HISTORY)


async def wait_for_desktop(page, timeout_ms: int = 60_000) -> None:
    """Wait until the desktop reads ``connected`` (the page reconnects by itself after
    a failed attempt); on a timeout, fail with what the status went through."""
    try:
        await page.wait_for_function(
            "() => (document.getElementById('desktop-status') || {}).textContent === 'connected'",
            polling=POLL_MS,
            timeout=timeout_ms,
        )
    except Exception as exc:
        history = await page.evaluate("() => window.__statusHistory || []")
        raise AssertionError(f"the desktop never connected; status history {history}") from exc


# True once the desktop canvas shows more than its background (at least three colours).
CANVAS_COLOURS = """() => {
    const c = document.querySelector('#screen canvas');
    if (!c || !c.width) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length && seen.size < 20; i += 4 * 97)
      seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
    return seen.size >= 3;
}"""
