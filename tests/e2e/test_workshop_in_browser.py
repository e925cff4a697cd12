"""Issue 14's "Done when", in a real browser on real Docker: an instructor creates a
workshop; two participants join with the code (one signed in, one anonymous); the
instructor sees both in the grid (with their thumbnail images), observes one
read-only (a keystroke from the observer never reaches the workspace), broadcasts a
message that both participants' pages show, resets one; at the end both workspaces
are gone and so is the temporary user."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.conftest import POLL_MS, confirm_in_modal
from tests.integration.conftest import session_containers
from tests.integration.test_share_workspace import _exists
from tests.integration.test_workshops_docker import pool_back_to_normal

pytestmark = pytest.mark.browser

TERMINAL_TEXT = (
    "() => Array.from({length: window.moorageTerminal.buffer.active.length}, (_, i) => "
    "window.moorageTerminal.buffer.active.getLine(i).translateToString()).join('\\n')"
)


async def _containers_of(docker, session_ids: set[str]) -> list:
    return [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] in session_ids
    ]


async def _sign_in(page, base_url: str, username: str, password: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(re.compile(r"/$"))


async def _terminal_connected(page) -> None:
    await page.wait_for_selector("#terminal .xterm")
    await page.wait_for_function(
        "() => document.getElementById('terminal-status').textContent === 'connected'",
        polling=POLL_MS,
    )


async def test_an_instructor_runs_a_workshop_in_the_browser(server, browser, admin, docker):
    for name, role in (("ws-teacher", "instructor"), ("ws-student", "member")):
        made = await admin.post(
            "/api/v1/users", json={"username": name, "password": f"{name}-pw", "role": role}
        )
        assert made.status_code in (201, 409), made.text
    contexts = [
        await browser.new_context(viewport={"width": 1366, "height": 800}) for _ in range(3)
    ]
    teacher, student, visitor = [await c.new_page() for c in contexts]
    for page in (teacher, student, visitor):
        page.set_default_timeout(30_000)
    session_ids: set[str] = set()
    try:
        # The instructor creates an anonymous workshop from the form.
        await _sign_in(teacher, server.base_url, "ws-teacher", "ws-teacher-pw")
        await teacher.click("nav a[href='/workshops']")
        await teacher.fill("#ws-title", "Shell class")
        await teacher.select_option("#ws-template", "debian-shell")
        await teacher.fill("#ws-capacity", "5")
        await teacher.fill("#ws-duration", "30")
        await teacher.check("#ws-anonymous")
        await teacher.click("#workshop-create-submit")
        await teacher.wait_for_url(re.compile(r"/workshops/[0-9a-f-]{36}$"))
        workshop_id = teacher.url.rsplit("/", 1)[1]
        code = (await teacher.inner_text("#join-code")).strip()
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", code), code

        # A signed-in participant follows the link: straight into the workspace.
        await _sign_in(student, server.base_url, "ws-student", "ws-student-pw")
        await student.goto(f"{server.base_url}/join/{code}")
        await student.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
        student_session = student.url.rsplit("/", 1)[1]
        await _terminal_connected(student)

        # An anonymous one types the code on the login page and gives a name.
        await visitor.goto(f"{server.base_url}/login")
        await visitor.fill("#join-code", code.lower())
        await visitor.click("#join-code-form button[type=submit]")
        await visitor.fill("#display_name", "Ada")
        await visitor.click("#join-submit")
        await visitor.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
        visitor_session = visitor.url.rsplit("/", 1)[1]
        await _terminal_connected(visitor)
        session_ids |= {student_session, visitor_session}

        # The instructor sees both in the grid, each with a thumbnail image.
        await teacher.wait_for_function(
            "() => document.querySelectorAll('#participants-grid [data-participant] "
            "img[data-thumbnail]').length === 2",
            polling=POLL_MS,
        )
        names = await teacher.locator("#participants-grid [data-name]").all_inner_texts()
        assert sorted(names) == ["Ada", "ws-student"]
        sources = await teacher.eval_on_selector_all(
            "#participants-grid img[data-thumbnail]", "els => els.map(e => e.dataset.src)"
        )
        assert sorted(sources) == sorted(
            f"/api/v1/sessions/{s}/thumbnail" for s in (student_session, visitor_session)
        )
        # Both thumbnails load as pictures (their pixels are the thumbnail route's tests').
        await teacher.wait_for_function(
            "() => [...document.querySelectorAll('#participants-grid img[data-thumbnail]')]"
            ".every(img => img.complete && img.naturalWidth > 0)",
            polling=POLL_MS,
            timeout=20_000,
        )

        # Observe the signed-in participant read-only: a new tab, the named link opened.
        card = teacher.locator(f"#participants-grid [data-session='{student_session}']")
        async with teacher.context.expect_page() as popup_info:
            await card.locator("[data-observe]").click()
        observer = await popup_info.value
        observer.set_default_timeout(30_000)
        await observer.wait_for_url(re.compile(r"/share/msh_"))
        await observer.click("#share-open")
        await observer.wait_for_url(re.compile(rf"/shared/{student_session}$"))
        assert (await observer.inner_text("#shared-role")).strip() == "observer"
        await _terminal_connected(observer)
        await observer.click("#terminal")
        await observer.keyboard.type("touch /tmp/observer-was-here\n")
        await student.click("#terminal")
        await student.keyboard.type("echo student-$((40+2)) && touch /tmp/student-was-here\n")
        await observer.wait_for_function(f"() => ({TERMINAL_TEXT})().includes('student-42')")
        for _ in range(40):
            if await _exists(docker, student_session, "/tmp/student-was-here"):
                break
            await asyncio.sleep(0.25)
        assert await _exists(docker, student_session, "/tmp/student-was-here")
        assert not await _exists(docker, student_session, "/tmp/observer-was-here")
        await observer.close()

        # A broadcast message shows on both participants' pages.
        await teacher.fill("#broadcast-message", "Open exercise 2 now")
        await teacher.click("#broadcast-send")
        for page in (student, visitor):
            await page.wait_for_function(
                "() => (document.getElementById('workshop-broadcast-text') || {}).textContent"
                " === 'Open exercise 2 now'",
                polling=POLL_MS,
                timeout=20_000,
            )

        # Reset the anonymous participant: a fresh workspace, the old container gone.
        ada = teacher.locator(f"#participants-grid [data-session='{visitor_session}']")
        await ada.locator("[data-reset]").click()
        await confirm_in_modal(teacher)
        await teacher.wait_for_function(
            "(old) => { const c = [...document.querySelectorAll('#participants-grid "
            "[data-participant]')].find(e => e.querySelector('[data-name]').textContent === 'Ada');"
            " return c && c.dataset.session && c.dataset.session !== old; }",
            arg=visitor_session,
            polling=POLL_MS,
        )
        fresh = await teacher.eval_on_selector_all(
            "#participants-grid [data-participant]", "els => els.map(e => e.dataset.session)"
        )
        session_ids |= set(fresh)
        assert await _containers_of(docker, {visitor_session}) == []

        # End now: every workspace of the workshop goes, and the temporary user.
        await teacher.click("#end-now")
        await confirm_in_modal(teacher)
        await teacher.wait_for_selector("#workshop-ended")
        for _ in range(50):
            if not await _containers_of(docker, session_ids):
                break
            await asyncio.sleep(0.2)
        assert await _containers_of(docker, session_ids) == []
        users = (await admin.get("/api/v1/users")).json()
        assert [u["username"] for u in users if u["username"].startswith("guest-")] == []
        await pool_back_to_normal(admin)  # the prewarmed workspaces go too
        await student.goto(f"{server.base_url}/join/{code}")
        assert "This workshop has ended" in await student.inner_text("#join-ended")
        listed = (await admin.get(f"/api/v1/workshops/{workshop_id}")).json()
        assert listed["state"] == "ended"
    finally:
        for context in contexts:
            await context.close()
