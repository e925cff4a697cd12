"""Users in the browser: an admin creates a user, puts them in a group, and
disables them through a confirmation that says what ends; the user's live session
(a real container) is released. A member changes their password on their account
page."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_admin_in_browser import confirm, sign_in
from tests.integration.conftest import session_containers
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_admin_creates_edits_and_disables_a_user_ending_their_session(
    server, browser, admin, docker, tmp_path
):
    name = f"pupil-{uuid.uuid4().hex[:6]}"
    group = f"class-{uuid.uuid4().hex[:4]}"
    assert (await admin.post("/api/v1/groups", json={"name": group})).status_code == 201
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await sign_in(page, server.base_url, "admin", ADMIN_PASSWORD, "/admin/users")
        await page.wait_for_selector("#new-user")
        await page.fill("#new-username", name)
        await page.fill("#new-display", "Pupil One")
        await page.fill("#new-password", f"{name}-password")
        await page.click("#new-user button[type=submit]")
        row = page.locator(f"tr[data-username='{name}']")
        await row.wait_for()

        pupil = await server.login(name, f"{name}-password")
        launched = await pupil.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session_id = launched.json()["id"]

        await page.reload()
        await row.locator("button:text('Edit')").click()
        form = page.locator(f"form[aria-label='Edit user {name}']")
        await form.locator(f"input[name=groups][value='{group}']").check()
        await form.locator("button[type=submit]").click()
        await page.wait_for_function(
            f"() => [...document.querySelectorAll(\"tr[data-username='{name}'] .badge\")]"
            f".some(b => b.textContent === '{group}')"
        )
        await page.screenshot(path=str(tmp_path / "users-1366.png"), full_page=True)

        question = await confirm(page, row.locator("button:text('Disable')").click)
        assert f"Disable {name}?" in question and "1 live session" in question, question
        assert "tokens" in question
        await page.wait_for_function(
            f"() => (document.querySelector(\"tr[data-username='{name}']\") || {{}})"
            ".textContent?.includes('disabled')"
        )
        state = (await admin.get(f"/api/v1/sessions/{session_id}")).json()["state"]
        assert state == "released"
        left = [
            c
            for c in await session_containers(docker)
            if c._container["Labels"]["moorage.session"] == session_id
        ]
        assert left == []
        assert (await pupil.get("/api/v1/auth/me")).status_code == 401
        await page.goto(f"{server.base_url}/admin/groups")
        await page.wait_for_selector("#groups")
        assert name in await page.locator("#groups").inner_text()
        await page.screenshot(path=str(tmp_path / "groups-1366.png"), full_page=True)
        await pupil.aclose()
    finally:
        await page.close()


async def test_a_member_changes_their_password_on_the_account_page(
    server, browser, admin, tmp_path
):
    name = f"member-{uuid.uuid4().hex[:6]}"
    made = await admin.post(
        "/api/v1/users", json={"username": name, "password": f"{name}-old", "role": "member"}
    )
    assert made.status_code == 201, made.text
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await sign_in(page, server.base_url, name, f"{name}-old", "/account")
        await page.wait_for_selector("#password-form")
        await page.fill("#current_password", "not-my-password")
        await page.fill("#new_password", f"{name}-new")
        await page.fill("#confirm_password", f"{name}-new")
        await page.click("#password-form button[type=submit]")
        await page.wait_for_selector("text=the current password is wrong")
        await page.fill("#current_password", f"{name}-old")
        await page.click("#password-form button[type=submit]")
        await page.wait_for_selector("text=Password changed")
        await page.screenshot(path=str(tmp_path / "account-1366.png"), full_page=True)
        assert (await page.evaluate("document.getElementById('new_password').value")) == ""
        fresh = await server.login(name, f"{name}-new")
        assert (await fresh.get("/api/v1/auth/me")).json()["username"] == name
        await fresh.aclose()
    finally:
        await page.close()
