"""An admin's overview in the browser: the Sessions page lists a member's live session
and ends it through a confirmation that names the member; the containers page says
whose workspace a container is; a launch from the UI and a failed sign-in appear in
the audit page."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from tests.e2e.conftest import POLL_MS
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


async def sign_in(page, base_url: str, username: str, password: str, next_path: str = "/"):
    await page.goto(f"{base_url}/login?next={next_path}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


async def confirm(page, action) -> str:
    """Run ``action`` (a click that asks for confirmation), accept the question and
    return its text: the browser's own dialog, or a modal dialog in the page."""
    questions: list[str] = []
    answers: list[asyncio.Task] = []

    def on_dialog(dialog) -> None:
        questions.append(dialog.message)
        answers.append(asyncio.ensure_future(dialog.accept()))

    page.on("dialog", on_dialog)
    try:
        await action()
        modal = page.locator(".modal.show")
        for _ in range(20):
            if questions:
                return questions[0]
            if await modal.count() and await modal.first.is_visible():
                text = await modal.first.inner_text()
                buttons = modal.first.locator(".btn-danger, .btn-primary, [data-confirm]")
                await buttons.last.click()
                return text
            await asyncio.sleep(0.1)
        raise AssertionError("no confirmation was asked")
    finally:
        page.remove_listener("dialog", on_dialog)


@pytest.fixture
async def student(server, admin):
    """A member of their own (the live server is shared by the browser tests)."""
    name = f"student-{uuid.uuid4().hex[:6]}"
    made = await admin.post(
        "/api/v1/users", json={"username": name, "password": f"{name}-pw", "role": "member"}
    )
    assert made.status_code == 201, made.text
    client = await server.login(name, f"{name}-pw")
    client.username = name
    yield client
    for row in (await client.get("/api/v1/sessions?live=true")).json():
        await client.delete(f"/api/v1/sessions/{row['id']}")
    await client.aclose()


async def test_an_admin_sees_a_members_session_and_ends_it(
    server, browser, admin, student, tmp_path
):
    launched = await student.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    session_id = launched.json()["id"]
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await sign_in(page, server.base_url, "admin", ADMIN_PASSWORD)
        await page.wait_for_selector("#my-sessions")
        others = page.locator("#others-live")
        assert re.match(r"\d+ other live sessions? — see Sessions", await others.inner_text())
        await page.screenshot(path=str(tmp_path / "dashboard-1366.png"), full_page=True)
        await others.locator("a").click()
        await page.wait_for_url(re.compile(r"/admin/sessions$"))
        row = page.locator(f"tr[data-session='{session_id}']")
        await row.wait_for()
        assert await row.get_attribute("data-owner") == student.username
        cells = await row.inner_text()
        assert "Debian shell" in cells and "terminal" in cells and "local" in cells
        await page.wait_for_function(
            f"() => /^\\d+:\\d\\d/.test(document.querySelector(\"tr[data-session='{session_id}'] "
            '[data-expires-at]").textContent)',
            polling=POLL_MS,
        )
        await page.screenshot(path=str(tmp_path / "sessions-1366.png"), full_page=True)
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=str(tmp_path / "sessions-390.png"), full_page=True)
        await page.set_viewport_size({"width": 1366, "height": 768})

        # Filter by the member: only their session is left.
        await page.fill("#filter-owner", student.username)
        await page.click("#sessions-filters button[type=submit]")
        await page.wait_for_url(re.compile(r"owner=student-"))
        assert await page.locator("tr[data-session]").count() == 1

        # The containers page names the member on their workspace, and its remove
        # confirmation says whose it is.
        await page.goto(f"{server.base_url}/environments/local/containers")
        workspace = page.locator(f"tr[data-session='{session_id}']")
        await workspace.wait_for()
        assert f"workspace of {student.username}" in await workspace.inner_text()
        remove = await workspace.locator("button:text('Remove')").get_attribute("hx-confirm")
        assert remove is not None and remove.startswith(
            f"Remove the live workspace of {student.username} (session {session_id[:8]}, "
            "Debian shell), ending in"
        ), remove
        await page.screenshot(path=str(tmp_path / "containers-1366.png"), full_page=True)
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=str(tmp_path / "containers-390.png"), full_page=True)
        await page.set_viewport_size({"width": 1366, "height": 768})

        await page.goto(f"{server.base_url}/admin/sessions?owner={student.username}")
        row = page.locator(f"tr[data-session='{session_id}']")
        question = await confirm(page, row.locator("[data-end-session]").click)
        assert re.search(
            rf"End the live session of {student.username} \(Debian shell\), ending in .*min\?",
            question,
        ), question
        await row.wait_for(state="detached")
        await page.wait_for_url(re.compile(r"/admin/sessions\?owner="))
        state = (await student.get(f"/api/v1/sessions/{session_id}")).json()["state"]
        assert state in ("releasing", "released")
        ends = (
            await admin.get(
                "/api/v1/audit", params={"action": "session.end", "object_id": session_id}
            )
        ).json()
        assert [e["username"] for e in ends] == ["admin"]
    finally:
        await page.close()


async def test_a_ui_launch_and_a_failed_sign_in_appear_in_the_audit_page(
    server, browser, student, tmp_path
):
    name = student.username
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await sign_in(page, server.base_url, name, "not-the-password")
        await page.wait_for_selector(".alert-danger:text('wrong username or password')")
        await sign_in(page, server.base_url, name, f"{name}-pw")
        await page.click("[data-template=debian-shell] button[type=submit]")
        await page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
        session_id = page.url.rsplit("/", 1)[-1]
    finally:
        await page.close()

    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await sign_in(page, server.base_url, "admin", ADMIN_PASSWORD, "/admin/audit")
        await page.wait_for_selector("#audit-table")
        await page.fill("#audit-username", name)
        await page.click("#audit-filters button[type=submit]")
        await page.wait_for_url(re.compile(rf"username={name}"))
        actions = await page.locator("#audit-table tr[data-action]").evaluate_all(
            "rows => rows.map(r => r.dataset.action + ' ' + r.innerText)"
        )
        launch = [a for a in actions if a.startswith("session.launch ")]
        assert len(launch) == 1 and session_id in launch[0], actions
        failed = [a for a in actions if a.startswith("user.sign_in_failed ")]
        assert len(failed) == 1 and "wrong password" in failed[0], actions
        assert [a for a in actions if a.startswith("user.sign_in ")], actions
        assert "not-the-password" not in " ".join(actions)
        await page.screenshot(path=str(tmp_path / "audit-1366.png"), full_page=True)
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=str(tmp_path / "audit-390.png"), full_page=True)

        # The export holds what the page shows.
        href = await page.locator("#audit-csv").get_attribute("href")
        assert href is not None and "format=csv" in href
        exported = await page.request.get(f"{server.base_url}{href}")
        assert exported.ok
        lines = (await exported.text()).strip().splitlines()
        assert lines[0].startswith("at,username,action")
        assert len(lines) - 1 == len(actions)
    finally:
        await page.close()
