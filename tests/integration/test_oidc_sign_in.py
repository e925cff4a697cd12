"""OpenID Connect sign-in against a real provider (npm's oidc-provider on a loopback
port) and a real ``moorage serve``: the whole authorization code flow over HTTP,
through the provider's own login form, and what Moorage makes of the person."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.databases import fresh_database
from tests.live_server import ADMIN_PASSWORD, Server, free_port
from tests.oidc_provider import TestProvider, require_provider, running_provider

CLIENT_ID = "moorage-test"
CLIENT_SECRET = "a-client-secret-of-the-tests"
RULES = [
    {"group": "teachers", "role": "instructor", "groups": ["staff"]},
    {"group": "students", "groups": ["class-2b"]},
]


@pytest.fixture(scope="module")
async def moorage(tmp_path_factory) -> AsyncIterator[Server]:
    require_provider()
    async with fresh_database(tmp_path_factory.mktemp("oidc-db")) as url:
        instance = Server(tmp_path_factory.mktemp("oidc-data"), url)
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
    with running_provider(tmp_path_factory.mktemp("oidc-provider"), [client]) as running:
        yield running


@pytest.fixture(scope="module")
async def admin(moorage: Server, provider: TestProvider) -> AsyncIterator[httpx.AsyncClient]:
    """The break-glass admin (password), with the provider ``corp`` and the groups
    its rules name set up."""
    client = await moorage.login("admin", ADMIN_PASSWORD)
    for group in ("staff", "class-2b"):
        made = await client.post("/api/v1/groups", json={"name": group})
        assert made.status_code == 201, made.text
    made = await client.post(
        "/api/v1/directory/oidc",
        json={
            "name": "corp",
            "display_name": "Corp SSO",
            "issuer": provider.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "rules": RULES,
        },
    )
    assert made.status_code == 201, made.text
    assert CLIENT_SECRET not in made.text
    yield client
    await client.aclose()


def browser(moorage: Server) -> httpx.AsyncClient:
    """A client with its own cookie jar (a browser) for Moorage and the provider."""
    return httpx.AsyncClient(base_url=moorage.base_url, timeout=30)


async def to_callback(client: httpx.AsyncClient, login: str, password: str) -> str:
    """Start a sign-in with ``corp`` and go through the provider's login form (if the
    provider asks: it remembers its own session); the callback URL the provider sends
    the browser to, not yet followed."""
    response = await client.get("/login/oidc/corp?next=/reservations")
    while response.is_redirect:
        url = urljoin(str(response.url), response.headers["location"])
        if "/login/oidc/corp/callback" in url:
            return url
        response = await client.get(url)
    assert response.status_code == 200, response.text
    form = re.search(r'<form method="post" action="([^"]+)"', response.text)
    assert form is not None, response.text
    response = await client.post(
        urljoin(str(response.url), form.group(1)), data={"login": login, "password": password}
    )
    while response.is_redirect:
        url = urljoin(str(response.url), response.headers["location"])
        if "/login/oidc/corp/callback" in url:
            return url
        response = await client.get(url)
    raise AssertionError(f"the provider did not send the browser back: {response.text}")


async def sign_in(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    callback = await to_callback(client, login, password)
    return await client.get(callback)


async def members_of(admin: httpx.AsyncClient, group: str) -> list[str]:
    response = await admin.get(f"/api/v1/groups/{group}")
    assert response.status_code == 200, response.text
    return response.json()["members"]


async def test_a_provider_user_signs_in_with_the_code_flow_and_gets_role_and_groups(
    moorage, provider, admin
):
    provider.set_account(
        "ada", password="ada-pw", sub="f81d4fae-ada", groups=["teachers"], name="Ada Lovelace"
    )
    async with browser(moorage) as client:
        response = await sign_in(client, "ada", "ada-pw")
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/reservations"  # the page asked for
        assert client.cookies.get("moorage_login")
        me = (await client.get("/api/v1/auth/me")).json()
    assert (me["username"], me["role"]) == ("ada", "instructor")
    assert "ada" in await members_of(admin, "staff")
    users = {u["username"]: u for u in (await admin.get("/api/v1/users")).json()}
    assert users["ada"]["display_name"] == "Ada Lovelace"  # from the name claim


async def test_a_second_sign_in_follows_the_groups_the_provider_now_gives(moorage, provider, admin):
    provider.set_account("bea", password="bea-pw", sub="sub-bea", groups=["teachers"])
    async with browser(moorage) as client:
        assert (await sign_in(client, "bea", "bea-pw")).status_code == 303
    assert "bea" in await members_of(admin, "staff")
    provider.set_account("bea", password="bea-pw", sub="sub-bea", groups=["students"])
    async with browser(moorage) as client:
        assert (await sign_in(client, "bea", "bea-pw")).status_code == 303
        me = (await client.get("/api/v1/auth/me")).json()
    assert me["role"] == "member"  # the provider's default role: no rule gives one now
    assert "bea" not in await members_of(admin, "staff")
    assert "bea" in await members_of(admin, "class-2b")


async def test_a_replayed_callback_is_refused(moorage, provider, admin):
    provider.set_account("cyd", password="cyd-pw", sub="sub-cyd")
    async with browser(moorage) as client:
        callback = await to_callback(client, "cyd", "cyd-pw")
        state_cookie = client.cookies.get("moorage_oidc_state")
        assert (await client.get(callback)).status_code == 303
        # The attacker replays the callback with the state cookie too.
        client.cookies.set("moorage_oidc_state", state_cookie or "", path="/login/oidc/corp/")
        replay = await client.get(callback)
    assert replay.status_code == 401
    assert "used already or has expired" in replay.text
    assert "moorage_login" not in replay.headers.get("set-cookie", "")


async def test_a_forged_state_or_a_callback_from_another_browser_is_refused(
    moorage, provider, admin
):
    provider.set_account("dan", password="dan-pw", sub="sub-dan")
    async with browser(moorage) as client:
        callback = await to_callback(client, "dan", "dan-pw")
        forged = re.sub(r"state=[^&]+", "state=forged-state", callback)
        refused = await client.get(forged)
    assert refused.status_code == 401
    assert "did not start in this browser" in refused.text
    # Login CSRF: the attacker's callback URL opened in the victim's browser.
    async with browser(moorage) as victim:
        stolen = await victim.get(callback)
        assert stolen.status_code == 401
        assert "did not start in this browser" in stolen.text
        assert (await victim.get("/api/v1/auth/me")).status_code == 401


async def test_a_provider_user_cannot_take_over_a_local_account_of_the_same_name(
    moorage, provider, admin
):
    made = await admin.post(
        "/api/v1/users", json={"username": "eve", "password": "eve-local-pw", "role": "admin"}
    )
    assert made.status_code == 201, made.text
    provider.set_account("eve", password="eve-pw", sub="sub-eve", groups=["teachers"])
    async with browser(moorage) as client:
        refused = await sign_in(client, "eve", "eve-pw")
        assert (await client.get("/api/v1/auth/me")).status_code == 401
    assert refused.status_code == 403
    assert "exists already and is not linked to Corp SSO" in refused.text
    users = {u["username"]: u for u in (await admin.get("/api/v1/users")).json()}
    assert users["eve"]["role"] == "admin"  # untouched, and still the local password's
    local = await moorage.login("eve", "eve-local-pw")
    await local.aclose()


async def test_the_providers_second_factor_stands_for_moorages(moorage, provider, admin):
    made = await admin.post(
        "/api/v1/users", json={"username": "hal", "password": "hal-local-pw", "role": "member"}
    )
    assert made.status_code == 201, made.text
    required = await admin.patch(
        "/api/v1/orgs/default", json={"two_factor_required_roles": ["member"]}
    )
    assert required.status_code == 200, required.text
    provider.set_account("fay", password="fay-pw", sub="sub-fay")
    try:
        async with browser(moorage) as client:
            assert (await sign_in(client, "fay", "fay-pw")).status_code == 303
            catalog = await client.get("/")
        assert catalog.status_code == 200  # not sent to set up Moorage's TOTP
        local = await moorage.login("hal", "hal-local-pw")
        assert (await local.get("/")).status_code != 200  # a local member is asked
        await local.aclose()
    finally:
        await admin.patch("/api/v1/orgs/default", json={"two_factor_required_roles": []})


async def test_logout_offers_the_providers_own_sign_out(moorage, provider, admin):
    provider.set_account("gus", password="gus-pw", sub="sub-gus")
    async with browser(moorage) as client:
        assert (await sign_in(client, "gus", "gus-pw")).status_code == 303
        out = await client.post("/logout", headers={"Origin": moorage.base_url})
        assert out.headers["location"] == "/login?signed_out=corp"
        page = await client.get(out.headers["location"])
        assert "Sign out of Corp SSO too" in page.text
        to_provider = await client.get("/login/oidc/corp/logout")
        assert (await client.get("/api/v1/auth/me")).status_code == 401
    assert to_provider.status_code == 303
    target = urlsplit(to_provider.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == provider.issuer
    query = parse_qs(target.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["post_logout_redirect_uri"] == [f"{moorage.base_url}/login"]
    async with browser(moorage) as client:
        ended = await client.get(to_provider.headers["location"])
    assert ended.status_code == 200  # the provider's own sign-out page


async def test_a_provider_that_is_down_gives_a_clear_error_and_passwords_still_work(moorage, admin):
    made = await admin.post(
        "/api/v1/directory/oidc",
        json={
            "name": "down",
            "display_name": "Gone SSO",
            "issuer": f"http://127.0.0.1:{free_port()}",
            "client_id": CLIENT_ID,
        },
    )
    assert made.status_code == 201, made.text
    async with browser(moorage) as client:
        login_page = await client.get("/login")
        assert "Sign in with Gone SSO" in login_page.text
        refused = await client.get("/login/oidc/down")
    assert refused.status_code == 503
    assert "Gone SSO cannot be reached" in refused.text
    assert 'name="password"' in refused.text  # the password form is still there
    # The local break-glass admin signs in with the password whatever the providers do.
    again = await moorage.login("admin", ADMIN_PASSWORD)
    await again.aclose()
    await admin.delete("/api/v1/directory/oidc/down")


async def test_a_disabled_provider_has_no_button_and_no_sign_in(moorage, provider, admin):
    off = await admin.patch("/api/v1/directory/oidc/corp", json={"enabled": False})
    assert off.status_code == 200, off.text
    try:
        async with browser(moorage) as client:
            assert "Sign in with Corp SSO" not in (await client.get("/login")).text
            assert (await client.get("/login/oidc/corp")).status_code == 404
    finally:
        await admin.patch("/api/v1/directory/oidc/corp", json={"enabled": True})
