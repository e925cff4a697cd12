"""Every failure of a button or form shows the server's message on screen.

htmx swaps no 4xx/5xx response by default, so these six once did nothing visible:
launching over the limit (429), +30 min at the maximum (422), +30 on an ended session
(409), reserving with no free machine (409), a template whose default passes its
maximum (422) and a bad line in a machine import (422). Each test drives the real
page in Chromium against a real server and reads the message where a person would:
the page's alert area (#alerts), or the note under the field a 422 names. Destructive
actions ask in a modal naming the object; cancelling it does nothing.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from tests.e2e.conftest import POLL_MS
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}


async def signed_in_page(browser, server, path: str, viewport=DESKTOP):
    page = await browser.new_page(viewport=viewport)
    page.set_default_timeout(30_000)
    await page.goto(f"{server.base_url}/login?next={path}")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(re.escape(path) + "$"))
    return page


async def alert_with(page, text: str):
    """The alert in #alerts showing ``text``, once it is visible."""
    alert = page.locator("#alerts .alert", has_text=text)
    await alert.first.wait_for(state="visible")
    return alert.first


async def until_state(admin, session_id: str, wanted: str) -> None:
    for _ in range(300):
        state = (await admin.get(f"/api/v1/sessions/{session_id}")).json()["state"]
        if state == wanted:
            return
        assert state not in ("failed", "released"), f"session {session_id} is {state}"
        await asyncio.sleep(0.2)
    raise AssertionError(f"session {session_id} never reached {wanted}")


@pytest.fixture
async def one_session_template(admin):
    """A template allowing one session per user, whose default is its maximum (30 min)."""
    name = f"e2e-one-{uuid.uuid4().hex[:6]}"
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": name,
            "display_name": f"One session {name[-6:]}",
            "image": "moorage/terminal:latest",
            "default_duration_minutes": 30,
            "max_duration_minutes": 30,
            "max_sessions_per_user": 1,
        },
    )
    assert created.status_code == 201, created.text
    yield name
    # A template a session used cannot be deleted: take it out of the catalog.
    await admin.patch(f"/api/v1/templates/{name}", json={"enabled": False})


async def test_launching_over_the_limit_and_extending_at_the_maximum_or_after_the_end_say_why(
    server, browser, admin, docker, one_session_template, tmp_path
):
    launched = await admin.post("/api/v1/sessions", json={"template": one_session_template})
    assert launched.status_code in (200, 201, 202), launched.text
    session_id = launched.json()["id"]
    await until_state(admin, session_id, "ready")
    page = await signed_in_page(browser, server, "/")
    try:
        # 429: a second session of a one-per-user template, launched from the dashboard.
        await page.click(f"[data-template='{one_session_template}'] button[type=submit]")
        alert = await alert_with(page, "the limit is 1 per user")
        assert f"live sessions of {one_session_template}" in await alert.inner_text()
        assert page.url == f"{server.base_url}/"  # nothing was launched, no page was opened
        await page.screenshot(path=str(tmp_path / "launch-over-limit.png"))

        # 422: +30 min on a session already at its template's maximum.
        await page.goto(f"{server.base_url}/sessions/{session_id}")
        await page.click("#extend-session")
        await alert_with(page, "would pass the maximum of 30 minutes")

        # 409: +30 min on a session that ended before the page learnt of it (its
        # reads of the session are held back, as on a flaky network).
        await page.route(
            f"**/api/v1/sessions/{session_id}", lambda route: route.abort("connectionfailed")
        )
        await admin.delete(f"/api/v1/sessions/{session_id}")
        await until_state(admin, session_id, "released")
        refused = await admin.post(f"/api/v1/sessions/{session_id}/extend", json={"minutes": 30})
        assert refused.status_code == 409, refused.text
        await page.click("#extend-session")
        await alert_with(page, refused.json()["error"]["message"])
        await page.screenshot(path=str(tmp_path / "extend-ended.png"))
    finally:
        await page.close()


async def test_reserving_with_no_free_machine_and_a_bad_import_line_show_their_message(
    server, browser, admin, tmp_path
):
    suffix = uuid.uuid4().hex[:6]
    pool, machine = f"e2e-nofree-{suffix}", f"nofree-{suffix}"
    # Nothing listens on port 1: the machine never comes online, so none is free.
    registered = await admin.post(
        "/api/v1/machines",
        json={"name": machine, "host": "127.0.0.1", "port": 1, "password": "pw-e2e", "pool": pool},
    )
    assert registered.status_code == 201, registered.text
    page = await signed_in_page(browser, server, "/reservations")
    try:
        # 409: no machine of the pool is free.
        await page.select_option("#pool", pool)
        await page.click("#reserve-form button[type=submit]")
        await alert_with(page, f"only 0 machines of pool {pool} are available")
        assert await page.locator("[data-reservation]").count() == 0

        # 422: a bad line in an import, shown under the textarea the error names.
        await page.goto(f"{server.base_url}/machines")
        await page.fill("#machines-text", f"{machine}-ok 127.0.0.1 1 root pw\nthis-line-is-bad")
        await page.click("form[hx-post='/ui/machines/import'] button[type=submit]")
        note = page.locator("#machines-text ~ .invalid-feedback")
        await note.wait_for(state="visible")
        assert "line 2" in await note.inner_text()
        assert "nothing imported" in await note.inner_text()
        assert "is-invalid" in (await page.get_attribute("#machines-text", "class") or "")
        assert await page.evaluate("() => document.activeElement.id") == "machines-text"
        assert (await admin.get(f"/api/v1/machines/{machine}-ok")).status_code == 404
        await page.screenshot(path=str(tmp_path / "import-bad-line.png"))

        # No response at all (the network failed): the page says so.
        await page.route("**/ui/machines/*/maintenance", lambda route: route.abort())
        await page.click(f"tr[data-machine='{machine}'] button:has-text('Maintenance')")
        await alert_with(page, "Moorage did not answer")
    finally:
        await page.close()
        await admin.delete(f"/api/v1/machines/{machine}")


async def test_a_template_whose_default_passes_its_maximum_shows_the_message_at_the_field(
    server, browser, tmp_path
):
    page = await signed_in_page(browser, server, "/admin/templates")
    try:
        # The name's pattern compiles in the browser (a bare "-" in a class failed
        # under the v flag, so the check was silently skipped).
        await page.fill("#new-name", "Not A Valid Name")
        name_validity = "() => document.getElementById('new-name').validity.patternMismatch"
        assert await page.evaluate(name_validity)
        name = f"e2e-long-{uuid.uuid4().hex[:6]}"
        await page.fill("#new-name", name)
        await page.fill("#new-display_name", "Default too long")
        await page.fill("#new-default_duration_minutes", "500")
        await page.fill("#new-max_duration_minutes", "240")
        await page.click("#new-template button[type=submit]")
        note = page.locator("#new-default_duration_minutes ~ .invalid-feedback")
        await note.wait_for(state="visible")
        assert "must not exceed max_duration_minutes" in await note.inner_text()
        focused = await page.evaluate("() => document.activeElement.id")
        assert focused == "new-default_duration_minutes"
        # Every input of the form has a label.
        unlabelled = await page.evaluate(
            "() => [...document.querySelectorAll('#new-template input, #new-template select')]"
            ".filter((el) => el.type !== 'hidden' && el.labels.length === 0).map((el) => el.name)"
        )
        assert unlabelled == []
        await page.screenshot(path=str(tmp_path / "template-default-too-long.png"))
    finally:
        await page.close()


async def test_the_confirm_modal_names_the_object_and_cancelling_does_nothing(
    server, browser, admin, tmp_path
):
    machine = f"confirm-{uuid.uuid4().hex[:6]}"
    registered = await admin.post(
        "/api/v1/machines",
        json={"name": machine, "host": "127.0.0.1", "port": 1, "password": "pw-e2e"},
    )
    assert registered.status_code == 201, registered.text
    phone = {"width": 390, "height": 844}
    page = await signed_in_page(browser, server, "/machines", viewport=phone)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    popups: list[str] = []
    page.on("dialog", lambda dialog: popups.append(dialog.message))
    try:
        remove = page.locator(f"tr[data-machine='{machine}'] button:has-text('Remove')")
        modal = page.locator("#confirm-modal")

        # Esc cancels; the focus starts on the safe button.
        await remove.click()
        await modal.wait_for(state="visible")
        assert machine in await modal.inner_text()
        await page.wait_for_function(
            "() => document.activeElement && document.activeElement.id === 'confirm-cancel'",
            polling=POLL_MS,
        )
        await page.screenshot(path=str(tmp_path / "confirm-modal-phone.png"))
        await page.keyboard.press("Escape")
        await modal.wait_for(state="hidden")

        # Cancel cancels.
        await remove.click()
        await modal.wait_for(state="visible")
        await page.click("#confirm-cancel")
        await modal.wait_for(state="hidden")
        assert not [url for url in requests if "/delete" in url]
        assert (await admin.get(f"/api/v1/machines/{machine}")).status_code == 200

        # Confirming removes it, and the page says so after its reload.
        await remove.click()
        await modal.wait_for(state="visible")
        await page.click("#confirm-ok")
        await page.locator(f"tr[data-machine='{machine}']").wait_for(state="detached")
        notice = page.locator("#toasts [data-notice]", has_text=f"Machine {machine} removed.")
        await notice.wait_for()
        assert (await admin.get(f"/api/v1/machines/{machine}")).status_code == 404

        # A plain form (no htmx) with data-confirm asks the same way before it posts.
        registered = await admin.post(
            "/api/v1/machines",
            json={"name": f"{machine}-2", "host": "127.0.0.1", "port": 1, "password": "pw-e2e"},
        )
        assert registered.status_code == 201, registered.text
        await page.evaluate(
            """(name) => {
              const form = Object.assign(document.createElement("form"),
                                         { method: "post", action: `/ui/machines/${name}/delete` });
              form.id = "plain-form";
              form.dataset.confirm = `Remove machine ${name}?`;
              form.innerHTML = "<button type=submit>Remove plainly</button>";
              document.body.append(form);
            }""",
            f"{machine}-2",
        )
        await page.click("#plain-form button")
        await modal.wait_for(state="visible")
        assert f"{machine}-2" in await modal.inner_text()
        await page.click("#confirm-cancel")
        await modal.wait_for(state="hidden")
        assert (await admin.get(f"/api/v1/machines/{machine}-2")).status_code == 200
        await page.click("#plain-form button")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#plain-form", state="detached")  # the page was left
        assert (await admin.get(f"/api/v1/machines/{machine}-2")).status_code == 404
        assert popups == []  # no browser pop-up, ever
    finally:
        await page.close()
        await admin.delete(f"/api/v1/machines/{machine}")
        await admin.delete(f"/api/v1/machines/{machine}-2")


async def test_a_click_on_confirm_while_the_modal_fades_in_still_confirms(browser, server):
    # Bootstrap ignores hide() during the fade-in: a quick click once left the modal up
    # and the action unsent (seen as a flaky CI run of the two-factor test).
    page = await signed_in_page(browser, server, "/account")
    try:
        answer = await page.evaluate(
            """async () => {
                const answer = moorageConfirm("Quick? Clicked at once.");
                document.querySelector("#confirm-ok").click();
                const late = new Promise((resolve) => setTimeout(() => resolve("stuck"), 3000));
                return await Promise.race([answer, late]);
            }"""
        )
        assert answer is True
        await page.wait_for_selector("#confirm-modal", state="hidden")
    finally:
        await page.close()
