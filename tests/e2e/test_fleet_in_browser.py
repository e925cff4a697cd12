"""The fleet pages in a real browser with a real agent process: the node appears live,
its charts draw, an alert rule and an install link are made from the UI."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys

import pytest

from tests.e2e.conftest import POLL_MS
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_fleet_pages(server, browser, admin, tmp_path):
    token = (await admin.post("/api/v1/enrollment-tokens", json={"tags": ["ui"]})).json()["token"]
    config = tmp_path / "agent.json"
    enrolled = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "moorage",
            "agent",
            "enroll",
            "--server",
            server.base_url,
            "--token",
            token,
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    name = json.loads(config.read_text())["name"]
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    agent = None
    try:
        await page.goto(f"{server.base_url}/login?next=/fleet")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        row = page.locator(f"tr[data-node='{name}']")
        await row.wait_for()
        assert await row.locator("[data-status]").inner_text() == "unknown"
        agent = subprocess.Popen(  # noqa: ASYNC220 (a child that runs through the test)
            [
                sys.executable,
                "-m",
                "moorage",
                "agent",
                "run",
                "--config",
                str(config),
                "--interval",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The first report turns the row green without a reload (SSE).
        status = f"document.querySelector(\"tr[data-node='{name}'] [data-status]\").textContent"
        await page.wait_for_function(
            f"() => ['ok', 'warn', 'critical'].includes({status})", polling=POLL_MS
        )
        await page.select_option("#filters select[name=tag]", "ui")
        await page.locator(f"tr[data-node='{name}']").wait_for()

        # Times: the browser's zone in one format, the UTC value on hover.
        # (a row swapped in is formatted once htmx settles it, and the next SSE
        # update may swap it again: read text and title in the same script run)
        shown = await page.wait_for_function(
            f"""() => {{
                const t = document.querySelector("tr[data-node='{name}'] time");
                return t && /^\\d{{4}}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$/.test(t.textContent)
                    ? [t.textContent, t.title] : null;
            }}""",
            polling=POLL_MS,
        )
        text, title = await shown.json_value()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text)
        assert title.endswith(" UTC"), title

        await page.click(f"tr[data-node='{name}'] a")
        await page.wait_for_selector("#chart-percent canvas")
        await page.wait_for_selector("#chart-io canvas")
        # Byte rates read in units (B/s, KB/s, MB/s), not as "10,000,000".
        await page.hover("#chart-io .u-over", position={"x": 200, "y": 60})
        legend = await page.inner_text("#chart-io .u-legend")
        assert re.search(r"\d (B|KB|MB|GB)/s", legend), legend
        assert await page.locator("#current").inner_text()
        await page.click("a.btn:text-is('24h')")
        await page.wait_for_selector("#chart-load canvas")

        await page.goto(f"{server.base_url}/fleet/alerts")
        await page.fill("#rule-form input[name=name]", "hot cpu")
        await page.select_option("#rule-form select[name=metric]", "cpu_percent")
        await page.click("#rule-form button[type=submit]")
        await page.wait_for_selector("#rules-table td:text('hot cpu')")

        await page.goto(f"{server.base_url}/fleet/enroll")
        await page.click("#link-form button[type=submit]")
        await page.wait_for_selector("#command-box:not(.d-none)")
        command = await page.input_value("#install-command")
        assert command.startswith("curl -fsSL ") and command.endswith("| sudo sh")
        # A new enrolment token joins the list at once.
        await page.fill("#token-name", "e2e-room-2")
        await page.click("#token-form button[type=submit]")
        await page.wait_for_selector("#tokens-table tr[data-token] td:text('e2e-room-2')")
        assert not await page.is_visible("#no-token")
    finally:
        await page.close()
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
