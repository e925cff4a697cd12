"""Placement in the browser: an operator cordons an environment and gives it labels
from the environments page; the page shows its state, labels and room, and new
sessions go elsewhere (a real engine behind both environments)."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_admin_in_browser import sign_in
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_an_operator_cordons_an_environment_from_the_page(server, browser, admin, tmp_path):
    name = f"second-{uuid.uuid4().hex[:6]}"
    added = await admin.post(
        "/api/v1/environments", json={"name": name, "url": "unix:///var/run/docker.sock"}
    )
    assert added.status_code == 201, added.text
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await admin.patch(f"/api/v1/environments/{name}", json={"state": "cordoned"})
        await sign_in(page, server.base_url, "admin", ADMIN_PASSWORD, "/environments")
        row = page.locator(f"tr[data-environment='{name}']")
        await row.wait_for()
        assert "cordoned" in await row.inner_text()
        await row.locator("button:text('Placement')").click()
        form = page.locator(f"form[data-placement='{name}']")
        await form.wait_for(state="visible")
        await form.locator("input[name=labels]").fill("site=lab 2")
        await form.locator("button[type=submit]").click()
        note = form.locator(".invalid-feedback, .text-danger").first
        await note.wait_for(state="visible")  # a space is not a label: the field says so
        assert "labels" in (await note.inner_text()).lower() or "label" in await note.inner_text()

        await form.locator("input[name=labels]").fill("site=lab-2, gpu=true")
        await form.locator("input[name=memory_mb]").fill("2048")
        await form.locator("button[type=submit]").click()
        await page.wait_for_function(
            f"() => document.querySelector(\"tr[data-environment='{name}']\")"
            "?.textContent.includes('site=lab-2')"
        )
        row_text = await page.locator(f"tr[data-environment='{name}']").inner_text()
        assert "cordoned" in row_text and "/ 2048 MB" in row_text
        await page.screenshot(path=str(tmp_path / "environments-1366.png"), full_page=True)

        saved = (await admin.get(f"/api/v1/environments/{name}")).json()
        assert saved["labels"] == {"site": "lab-2", "gpu": "true"} and saved["state"] == "cordoned"
        launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        assert launched.json()["environment"] != name
        await admin.delete(f"/api/v1/sessions/{launched.json()['id']}")
    finally:
        await page.close()
        await admin.delete(f"/api/v1/environments/{name}")
