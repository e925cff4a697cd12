"""OpenID Connect sign-in in the browser (issue 13): a person clicks "Sign in with
Corp SSO" on Moorage's login page, signs in on the real provider's own page (npm's
oidc-provider on a loopback port), lands in Moorage's catalog as a new member, and
after signing out is offered the provider's sign-out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.databases import fresh_database
from tests.live_server import ADMIN_PASSWORD, Server
from tests.oidc_provider import TestProvider, require_provider, running_provider

pytestmark = pytest.mark.browser

CLIENT_ID = "moorage-e2e"
CLIENT_SECRET = "e2e-client-secret-of-the-tests"


@pytest.fixture(scope="module")
async def moorage(tmp_path_factory) -> AsyncIterator[Server]:
    require_provider()
    async with fresh_database(tmp_path_factory.mktemp("oidc-e2e-db")) as url:
        instance = Server(tmp_path_factory.mktemp("oidc-e2e-data"), url)
        instance.start()
        yield instance
        instance.stop()


@pytest.fixture(scope="module")
def provider(moorage: Server, tmp_path_factory) -> Iterator[TestProvider]:
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{moorage.base_url}/login/oidc/corp/callback"],
        "post_logout_redirect_uris": [f"{moorage.base_url}/login"],
    }
    with running_provider(tmp_path_factory.mktemp("oidc-e2e-provider"), [client]) as running:
        yield running


@pytest.fixture(scope="module")
async def admin(moorage: Server, provider: TestProvider) -> AsyncIterator[httpx.AsyncClient]:
    client = await moorage.login("admin", ADMIN_PASSWORD)
    made = await client.post(
        "/api/v1/directory/oidc",
        json={
            "name": "corp",
            "display_name": "Corp SSO",
            "issuer": provider.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert made.status_code == 201, made.text
    yield client
    await client.aclose()


async def test_an_oidc_user_signs_in_on_the_providers_page_and_lands_in_the_catalog(
    moorage, provider, admin, browser, tmp_path
):
    provider.set_account("iris", password="iris-provider-pw", sub="sub-iris", name="Iris N")
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await page.goto(f"{moorage.base_url}/login")
        await page.screenshot(path=str(tmp_path / "oidc-login.png"), full_page=True)
        await page.click("text=Sign in with Corp SSO")
        await page.wait_for_url(f"{provider.issuer}/interaction/**")
        assert "Test provider sign-in" in await page.inner_text("h1")
        await page.fill("input[name=login]", "iris")
        await page.fill("input[name=password]", "iris-provider-pw")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{moorage.base_url}/")
        assert (await page.inner_text("h1")).strip() == "Catalog"
        assert await page.locator("[data-template]").count() >= 1
        await page.screenshot(path=str(tmp_path / "oidc-catalog.png"), full_page=True)
        me = await page.request.get(f"{moorage.base_url}/api/v1/auth/me")
        assert (await me.json())["username"] == "iris"
        assert (await me.json())["role"] == "member"

        await page.click("form[action='/logout'] button")
        await page.wait_for_url("**/login?signed_out=corp")
        assert "Sign out of Corp SSO too" in await page.inner_text("#signed-out")
        await page.screenshot(path=str(tmp_path / "oidc-signed-out.png"), full_page=True)

        # The admin's settings page shows the provider and the redirect URI to register.
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url(f"{moorage.base_url}/")
        await page.goto(f"{moorage.base_url}/admin/directory")
        table = await page.inner_text("#oidc-providers")
        assert "Corp SSO" in table
        assert f"{moorage.base_url}/login/oidc/corp/callback" in table
        assert CLIENT_SECRET not in await page.content()
        await page.screenshot(path=str(tmp_path / "oidc-settings.png"), full_page=True)
    finally:
        await page.close()
