"""The containers page, live lines on the logs page, stopping a container from the UI."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.conftest import POLL_MS, confirm_in_modal
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_containers_page_live_logs_and_stop(server, browser, admin):
    name = f"ui-box-{uuid.uuid4().hex[:6]}"
    created = await admin.post(
        "/api/v1/environments/local/containers",
        json={
            "image": "moorage/terminal:latest",
            "name": name,
            "labels": {"moorage.test": "docker"},
            "command": [
                "bash",
                "-c",
                "i=0; while true; do i=$((i+1)); echo tick-$i; echo warn-$i >&2; sleep 0.2; done",
            ],
        },
    )
    assert created.status_code == 201, created.text
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await page.goto(f"{server.base_url}/login?next=/environments")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("tr[data-environment=local] .badge:text('reachable')")
        await page.click("tr[data-environment=local] a:text('Containers')")
        row = page.locator(f"tr[data-container='{name}']")
        await row.wait_for()
        assert await row.locator("[data-state]").inner_text() == "running"
        # A container made elsewhere appears without a reload (Docker events over SSE).
        other = f"{name}-live"
        made = await admin.post(
            "/api/v1/environments/local/containers",
            json={
                "image": "moorage/terminal:latest",
                "name": other,
                "labels": {"moorage.test": "docker"},
                "start": False,
            },
        )
        assert made.status_code == 201
        await page.locator(f"tr[data-container='{other}']").wait_for(timeout=10_000)
        await admin.delete(f"/api/v1/environments/local/containers/{other}")

        await row.locator("a:text('Logs')").click()
        await page.wait_for_url(re.compile(r"/logs$"))
        await page.wait_for_function(
            "() => document.querySelectorAll('#log .stdout').length >= 3", polling=POLL_MS
        )
        await page.wait_for_function(
            "() => document.querySelectorAll('#log .stderr').length >= 3", polling=POLL_MS
        )
        before = await page.locator("#log > div").count()
        await page.wait_for_function(
            f"() => document.querySelectorAll('#log > div').length > {before}", polling=POLL_MS
        )
        await page.fill("#search", "tick-2")
        assert await page.locator("#log .hit").count() >= 1

        await page.goto(f"{server.base_url}/environments/local/images")
        await page.wait_for_selector("#images-table code:text('moorage/terminal:latest')")

        await page.goto(f"{server.base_url}/environments/local/containers")
        row = page.locator(f"tr[data-container='{name}']")
        await row.locator("button:text('Stop')").click()
        await confirm_in_modal(page)
        await page.wait_for_function(
            f"() => document.querySelector(\"tr[data-container='{name}'] [data-state]\")"
            ".textContent === 'exited'",
            polling=POLL_MS,
        )
    finally:
        await page.close()
        await admin.delete(f"/api/v1/environments/local/containers/{name}")


async def test_networks_stacks_and_events_pages(server, browser, admin):
    suffix = uuid.uuid4().hex[:6]
    network, stack, box = f"ui-net-{suffix}", f"ui-stack-{suffix}", f"ui-netbox-{suffix}"
    created = await admin.post(
        "/api/v1/environments/local/containers",
        json={
            "image": "moorage/terminal:latest",
            "name": box,
            "labels": {"moorage.test": "docker"},
            "command": ["sleep", "infinity"],
        },
    )
    assert created.status_code == 201, created.text
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await page.goto(f"{server.base_url}/login?next=/environments/local/events")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#engine-status:text('engine connected')")
        await page.goto(f"{server.base_url}/environments")
        await page.fill("#env-name", f"ui-env-{suffix}")
        await page.fill("#env-url", "ssh://127.0.0.1")
        assert await page.is_visible("#env-ssh-key") and not await page.is_visible("#env-tls_ca")
        await page.click("#add-form button[type=submit]")
        # The API's 422 names the field: its message shows under the endpoint input.
        await page.wait_for_selector("#env-url ~ .invalid-feedback:has-text('ssh://user@host')")
        await page.goto(f"{server.base_url}/environments/local/events")
        await page.wait_for_selector("#engine-status:text('engine connected')")
        # A live event shows up without a reload.
        await admin.post(f"/api/v1/environments/local/containers/{box}/pause")
        await page.wait_for_selector(f"#events-table td:text('{box}')")
        await admin.post(f"/api/v1/environments/local/containers/{box}/unpause")

        await page.click("a.btn:text-is('Networks')")
        await page.wait_for_url(re.compile(r"/networks"))
        await page.fill("#create-form input[name=name]", network)
        await page.click("#create-form button[type=submit]")
        await page.wait_for_selector("#network-detail")
        await page.select_option("#connect-form select", box)
        await page.click("#connect-form button[type=submit]")
        await page.wait_for_selector(f"#attached-table td:text('{box}')")
        await page.click(f"[data-disconnect='{box}']")
        await confirm_in_modal(page)
        await page.wait_for_selector("#attached-table td:text('None.')")
        await page.click(f"[data-remove='{network}']")
        await confirm_in_modal(page)
        await page.wait_for_selector(f"#networks-table a:text('{network}')", state="detached")

        await page.goto(f"{server.base_url}/environments/local/stacks?new=1")
        await page.fill("#stack-form input[name=name]", stack)
        await page.click("#stack-form button[type=submit]")
        await page.wait_for_url(re.compile(rf"stack={stack}"))
        await page.click("[data-action=deploy]:not([data-pull])")
        await page.wait_for_selector("#services-table td:text('running')", timeout=60_000)
        await page.click("[data-logs=web]")
        await page.wait_for_selector("#logs:not(.d-none)")
        await page.click("[data-action=down]")
        await confirm_in_modal(page, times=2)  # take it down; remove its volumes too
        await page.wait_for_selector("#services-table td:text('Not deployed.')", timeout=60_000)
        await page.click("#forget")
        await confirm_in_modal(page)
        await page.wait_for_selector(f"#stack-list a:text('{stack}')", state="detached")
    finally:
        await page.close()
        await admin.delete(f"/api/v1/environments/local/containers/{box}")
        await admin.delete(f"/api/v1/environments/local/networks/{network}")
        await admin.post(f"/api/v1/environments/local/stacks/{stack}/down")
        await admin.delete(f"/api/v1/environments/local/stacks/{stack}")
