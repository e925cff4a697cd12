"""Organisations in the browser: the platform admin creates an org (a taken name's
error on the screen, then the key shown once), its first admin signs in and sees
only their org, and the platform admin removes it through a confirmation that says
what ends."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_admin_in_browser import confirm, sign_in
from tests.e2e.test_page_errors_in_browser import alert_with
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_a_platform_admin_creates_and_removes_an_org(server, browser, tmp_path):
    name = f"org-{uuid.uuid4().hex[:6]}"
    boss = f"{name}-boss"
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await sign_in(page, server.base_url, "admin", ADMIN_PASSWORD, "/admin/orgs")
        await page.wait_for_selector("#new-org")
        await page.fill("#new-org-name", "default")
        await page.click("#new-org button[type=submit]")
        await alert_with(page, "an org named default exists")

        await page.fill("#new-org-name", name)
        await page.fill("#new-org-dn", "Physics")
        await page.fill("#new-org-admin", boss)
        await page.fill("#new-org-password", f"{boss}-password")
        await page.click("#new-org button[type=submit]")
        key = page.locator("#org-created [data-org-api-key]")
        await key.wait_for()
        api_key = await key.inner_text()
        assert api_key.startswith("mrg_")
        await page.screenshot(path=str(tmp_path / "orgs-created-1366.png"), full_page=True)

        member = await server.login(boss, f"{boss}-password")
        assert [o["name"] for o in (await member.get("/api/v1/orgs")).json()] == [name]

        await page.goto(f"{server.base_url}/admin/orgs")
        row = page.locator(f"tr[data-org='{name}']")
        await row.wait_for()
        question = await confirm(page, row.locator("button:text('Remove')").click)
        assert f"Remove {name}?" in question and "users (1)" in question, question
        await row.wait_for(state="detached")
        await page.screenshot(path=str(tmp_path / "orgs-removed-1366.png"), full_page=True)
        assert (await member.get("/api/v1/orgs")).status_code == 401
        await member.aclose()
    finally:
        await page.close()
