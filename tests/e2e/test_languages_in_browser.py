"""Languages in the browser (issue 18): a member switches the pages to Russian and to
French with the footer's selector and finds them translated, with each language's
plural of their live sessions on the catalog card: 1 сессия, 2 сессии, 5 сессий."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_admin_in_browser import sign_in
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

LIVE = {
    "ru": {1: "1 активная сессия", 2: "2 активные сессии", 5: "5 активных сессий"},
    "fr": {1: "1 session active", 2: "2 sessions actives", 5: "5 sessions actives"},
}
HEADINGS = {
    "ru": ("Каталог", "Мои сессии", "Панель"),
    "fr": ("Catalogue", "Mes sessions", "Tableau de bord"),
}


async def choose_language(page, language: str) -> None:
    """Pick ``language`` in the footer's selector; the page comes back in it."""
    async with page.expect_navigation():
        await page.select_option("#language", language)
    await page.wait_for_function(f"() => document.documentElement.lang === '{language}'")


async def forget_language(page, base_url: str) -> None:
    """Choose "the browser's language" on the account page: the account keeps none
    (the browser tests share the admin)."""
    await page.goto(f"{base_url}/account")
    await page.select_option("#account-language", "auto")
    async with page.expect_navigation():
        await page.click("#account-language-form button[type=submit]")


async def live_badge(page, template: str) -> str:
    badge = page.locator(f"[data-template='{template}'] [data-live-sessions]")
    return (await badge.inner_text()).strip()


async def test_the_footer_switches_to_russian_and_french_with_their_plurals(
    server, browser, admin, tmp_path
):
    suffix = uuid.uuid4().hex[:6]
    name, template = f"lang-{suffix}", f"shell-{suffix}"
    made = await admin.post(
        "/api/v1/templates",
        json={
            "name": template,
            "display_name": f"Shell {suffix}",
            "image": "moorage/terminal:latest",
            "max_sessions_per_user": 5,
        },
    )
    assert made.status_code == 201, made.text
    created = await admin.post(
        "/api/v1/users", json={"username": name, "password": f"{name}-password", "role": "member"}
    )
    assert created.status_code == 201, created.text
    member = await server.login(name, f"{name}-password")
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    launched = 0
    try:
        await sign_in(page, server.base_url, name, f"{name}-password", "/")
        await page.wait_for_selector("#language")
        for count in (1, 2, 5):
            while launched < count:
                answer = await member.post("/api/v1/sessions", json={"template": template})
                assert answer.status_code == 201, answer.text
                launched += 1
            for language in ("ru", "fr"):
                await choose_language(page, language)
                assert await live_badge(page, template) == LIVE[language][count]
                text = await page.locator("main").inner_text()
                for heading in HEADINGS[language][:2]:
                    assert heading in text, (language, heading)
                nav = await page.locator("#navbar-menu").inner_text()
                assert HEADINGS[language][2] in nav
        await page.screenshot(path=str(tmp_path / "dashboard-fr-1366.png"), full_page=True)

        # The choice is the account's: other pages follow, and so does the API.
        await page.goto(f"{server.base_url}/account")
        assert "Votre compte" in await page.locator("h1").inner_text()
        await page.goto(f"{server.base_url}/reservations")
        assert "Réserver des machines" in await page.locator("main").inner_text()
        await choose_language(page, "ru")
        await page.goto(f"{server.base_url}/account")
        assert "Ваша учётная запись" in await page.locator("h1").inner_text()
        refused = await member.get("/api/v1/templates/no-such-template")
        assert refused.json()["error"]["message"] == "шаблона с именем 'no-such-template' нет"

        # Signed out, the login page's selector works too (a cookie for this browser).
        await page.context.clear_cookies()
        await page.goto(f"{server.base_url}/login")
        await choose_language(page, "fr")
        assert "Connectez-vous à votre compte" in await page.locator("main").inner_text()
        await choose_language(page, "en")
        assert "Log in to your account" in await page.locator("main").inner_text()
    finally:
        await page.close()
        await member.aclose()


WIDEST = ("/", "/admin/users", "/admin/templates", "/environments/local/containers", "/fleet")


async def test_russian_and_french_pages_fit_a_laptop_and_a_phone(server, browser):
    """Longer words must not push the admin's pages wider than the screen."""
    for width, height in ((1366, 768), (390, 844)):
        context = await browser.new_context(viewport={"width": width, "height": height})
        page = await context.new_page()
        try:
            await sign_in(page, server.base_url, "admin", ADMIN_PASSWORD, "/")
            await page.wait_for_selector("#language")
            for language in ("ru", "fr"):
                await choose_language(page, language)
                for path in WIDEST:
                    await page.goto(f"{server.base_url}{path}")
                    overflow = await page.evaluate(
                        "document.documentElement.scrollWidth - window.innerWidth"
                    )
                    assert overflow <= 0, (language, width, path, overflow)
            await forget_language(page, server.base_url)
            assert await page.evaluate("document.documentElement.lang") == "en"
        finally:
            await context.close()
