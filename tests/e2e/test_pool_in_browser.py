"""An operator imports machines in the browser; a person reserves one, sees the
credentials and the SSH command, and releases it."""

from __future__ import annotations

import re
import signal

import pytest

from tests.e2e.conftest import confirm_in_modal
from tests.integration.pool_machines import remove_machines, start_machines
from tests.live_server import ADMIN_PASSWORD, Server

pytestmark = pytest.mark.browser


@pytest.fixture
async def pool_server(docker, tmp_path):
    server = Server(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'moorage.db'}",
        extra_env={"MOORAGE_PROBE_INTERVAL_SECONDS": "1"},
    )
    server.start()
    yield server
    server.stop(signal.SIGKILL)


async def test_import_reserve_and_release_in_the_browser(pool_server, docker, browser, tmp_path):
    machines = await start_machines(docker, 2, "ui")
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await page.goto(f"{pool_server.base_url}/login?next=/machines")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(re.compile(r"/machines$"))
        await page.fill("#machines-text", "\n".join(m.line() for m in machines))
        await page.click("form[hx-post='/ui/machines/import'] button[type=submit]")
        for machine in machines:
            row = page.locator(f"tr[data-machine='{machine.name}']")
            await row.wait_for()
        # Probes run every second; reload until both are online.
        for _ in range(30):
            await page.reload()
            if await page.locator("#machines-table .badge", has_text="online").count() == 2:
                break
            await page.wait_for_timeout(500)
        assert await page.locator("#machines-table .badge", has_text="online").count() == 2
        await page.screenshot(path=str(tmp_path / "machines.png"))

        await page.goto(f"{pool_server.base_url}/reservations")
        await page.fill("#username", "ui-student")
        await page.click("#reserve-form button[type=submit]")
        card = page.locator("[data-reservation]")
        await card.wait_for()
        assert "ui-student" in await card.locator("input").first.input_value()
        assert "ssh -p" in await card.locator("code").first.inner_text()
        assert re.search(r"\d+:\d\d", await card.locator(".countdown").inner_text())
        await page.screenshot(path=str(tmp_path / "reservations.png"))

        await card.locator("text=Release").click()
        await confirm_in_modal(page)
        await card.wait_for(state="detached")
        code, _ = await machines[0].run("id", "-u", "ui-student")
        assert code != 0
    finally:
        await page.close()
        await remove_machines(machines)
