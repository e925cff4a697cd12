"""Two-factor sign-in in the browser (issue 13, "Done when"): an admin sets up TOTP
on their account page (the test reads the secret from the page and computes codes
with pyotp), signs out, cannot sign in without a code, signs in with one, signs out,
and signs in with a recovery code."""

from __future__ import annotations

import asyncio
import time
import uuid

import pyotp
import pytest

from tests.e2e.test_admin_in_browser import confirm, sign_in

pytestmark = pytest.mark.browser

REGENERATE = "form[aria-label='New recovery codes'] button[type=submit]"


async def sign_out(page) -> None:
    await page.click("form[action='/logout'] button")
    await page.wait_for_url("**/login**")


async def test_an_admin_enables_totp_then_needs_a_code_or_a_recovery_code(
    server, browser, admin, tmp_path
):
    # An admin of their own: the live server is shared, so "admin" keeps no second factor.
    name = f"guard-{uuid.uuid4().hex[:6]}"
    password = f"{name}-password"
    made = await admin.post(
        "/api/v1/users", json={"username": name, "password": password, "role": "admin"}
    )
    assert made.status_code == 201, made.text
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await sign_in(page, server.base_url, name, password, "/account")
        card = page.locator("#two-factor")
        await card.locator("button:text('Set up two-factor sign-in')").click()
        secret = (await page.locator("#two-factor-secret").inner_text()).strip()
        assert await card.locator("svg").count() == 1  # the QR code, drawn by the server
        totp = pyotp.TOTP(secret)
        await page.fill("#two-factor-confirm-code", totp.now())
        await card.locator("button:text('Enable')").click()
        await page.wait_for_selector("[data-recovery-codes]")
        codes = [
            c.strip() for c in await page.locator("[data-recovery-codes] code").all_inner_texts()
        ]
        assert len(codes) == 10
        assert (await page.locator("[data-two-factor-state]").inner_text()).strip() == "Enabled"
        await page.screenshot(path=str(tmp_path / "two-factor-codes.png"), full_page=True)

        await sign_out(page)
        await sign_in(page, server.base_url, name, password, "/account")
        await page.wait_for_selector("#code")
        assert "Two-factor sign-in" in await page.inner_text("h1")
        await page.fill("#code", "000000")
        await page.click("button[type=submit]")
        alert = page.locator(".alert-danger")
        await alert.wait_for()
        assert "code is not right" in await alert.inner_text()
        await page.goto(f"{server.base_url}/account")
        assert "/login" in page.url  # no cookie without the code

        await sign_in(page, server.base_url, name, password, "/account")
        await page.wait_for_selector("#code")
        # The next step's code: the set-up spent this one (replay protection), and
        # one step of drift is accepted.
        used_step = int(time.time() // 30) + 1
        await page.fill("#code", totp.at(used_step * 30))
        await page.click("button[type=submit]")
        await page.wait_for_url("**/account")
        await sign_out(page)

        await sign_in(page, server.base_url, name, password, "/account")
        await page.wait_for_selector("#code")
        await page.fill("#code", codes[0])
        await page.click("button[type=submit]")
        await page.wait_for_url("**/account")
        left = await page.locator("[data-recovery-left]").inner_text()
        assert left.strip() == "9"

        # A wrong code reaches the screen next to its field; the right one, after the
        # confirmation, replaces all the recovery codes.
        await page.fill("#two-factor-regen-code", "000000")
        await confirm(page, page.locator(REGENERATE).click)
        await page.wait_for_selector("#two-factor-regen-code.is-invalid")
        assert "code is not right" in await page.inner_text("#two-factor")
        # A later step than the sign-in's, within one step of the clock: wait for it.
        await asyncio.sleep(max(0.0, used_step * 30 - time.time()))
        await page.fill("#two-factor-regen-code", totp.at((used_step + 1) * 30))
        # The card the answer replaces (hx-swap outerHTML), told apart from the new one.
        await page.eval_on_selector("#two-factor", "card => card.dataset.stale = 'yes'")
        question = await confirm(page, page.locator(REGENERATE).click)
        assert "Replace all your recovery codes?" in question
        # The new codes, or the error that came instead (said whole when it fails).
        await page.wait_for_selector(
            "#two-factor:not([data-stale]) [data-recovery-codes],"
            " #two-factor:not([data-stale]) .is-invalid"
        )
        card_text = await page.inner_text("#two-factor")
        assert await page.locator("[data-recovery-codes]").count() == 1, card_text
        fresh = await page.locator("[data-recovery-codes] code").all_inner_texts()
        assert len(fresh) == 10 and not set(fresh) & set(codes)
    finally:
        await page.close()
