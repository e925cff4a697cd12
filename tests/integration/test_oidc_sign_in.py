"""OpenID Connect sign-in against a real provider (npm's oidc-provider on a loopback
port) and a real ``moorage serve``: the whole authorization code flow over HTTP,
through the provider's own login form, and what Moorage makes of the person."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

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
        "redirect_uris": [
            f"{moorage.base_url}/login/oidc/{name}/callback" for name in ("corp", "tampered")
        ],
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


async def to_callback(
    client: httpx.AsyncClient, login: str, password: str, name: str = "corp"
) -> str:
    """Start a sign-in with provider ``name`` and go through the provider's login form (if the
    provider asks: it remembers its own session); the callback URL the provider sends
    the browser to, not yet followed."""
    response = await client.get(f"/login/oidc/{name}?next=/reservations")
    while response.is_redirect:
        url = urljoin(str(response.url), response.headers["location"])
        if f"/login/oidc/{name}/callback" in url:
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
        if f"/login/oidc/{name}/callback" in url:
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


class Answers(ThreadingHTTPServer):
    """An HTTP server on a loopback port that answers each path with a fixed
    ``(status, content type, body)``: a provider that says nonsense, or lies."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        answers = self.answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, kind, body = answers.get(self.path, (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def answers() -> Iterator[Answers]:
    server = Answers()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


DISCOVERY = "/.well-known/openid-configuration"


async def fetch_json(url: str) -> dict:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "status,kind,body",
    [
        (200, "text/html", b"<html>a login page, not metadata</html>"),
        (200, "application/json", b"[1, 2, 3]"),
        (200, "application/json", b'"just a string"'),
        (200, "application/json", b'{"issuer": "x"}'),
        (500, "application/json", b'{"error": "down"}'),
    ],
)
async def test_a_provider_answering_nonsense_gives_a_clear_error_not_a_500(
    moorage, admin, answers, status, kind, body
):
    answers.answers[DISCOVERY] = (status, kind, body)
    made = await admin.post(
        "/api/v1/directory/oidc",
        json={"name": "odd", "display_name": "Odd SSO", "issuer": answers.url, "client_id": "c"},
    )
    assert made.status_code == 201, made.text
    try:
        async with browser(moorage) as client:
            refused = await client.get("/login/oidc/odd")
        assert refused.status_code == 503, refused.text
        assert "Odd SSO cannot be reached or did not answer as an OpenID Connect provider" in (
            refused.text
        )
    finally:
        await admin.delete("/api/v1/directory/oidc/odd")


async def test_a_provider_whose_metadata_names_another_issuer_is_refused(
    moorage, provider, admin, answers
):
    real = await fetch_json(provider.issuer + DISCOVERY)
    answers.answers[DISCOVERY] = (200, "application/json", json.dumps(real).encode())
    made = await admin.post(
        "/api/v1/directory/oidc",
        json={"name": "liar", "display_name": "Liar SSO", "issuer": answers.url, "client_id": "c"},
    )
    assert made.status_code == 201, made.text
    try:
        async with browser(moorage) as client:
            refused = await client.get("/login/oidc/liar")
        assert refused.status_code == 503
        assert "Liar SSO says its issuer is" in refused.text
    finally:
        await admin.delete("/api/v1/directory/oidc/liar")


@pytest.fixture
async def tampered(moorage, provider, admin, answers) -> AsyncIterator[None]:
    """Provider ``tampered``: the real provider's endpoints, but metadata served by
    ``answers`` naming it as the issuer and a JWKS of another key with the real
    key's id: the real provider's ID tokens must not pass its signature check."""
    real = await fetch_json(provider.issuer + DISCOVERY)
    real_kid = (await fetch_json(real["jwks_uri"]))["keys"][0]["kid"]
    other = RSAKey.generate_key(2048, parameters={"kid": real_kid, "use": "sig", "alg": "RS256"})
    metadata = {**real, "issuer": answers.url, "jwks_uri": answers.url + "/jwks"}
    answers.answers[DISCOVERY] = (200, "application/json", json.dumps(metadata).encode())
    jwks = {"keys": [other.as_dict(private=False)]}
    answers.answers["/jwks"] = (200, "application/json", json.dumps(jwks).encode())
    made = await admin.post(
        "/api/v1/directory/oidc",
        json={
            "name": "tampered",
            "display_name": "Tampered SSO",
            "issuer": answers.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert made.status_code == 201, made.text
    yield
    await admin.delete("/api/v1/directory/oidc/tampered")


async def test_an_id_token_not_signed_by_the_providers_jwks_is_refused(moorage, provider, tampered):
    provider.set_account("ivy", password="ivy-pw", sub="sub-ivy")
    async with browser(moorage) as client:
        callback = await to_callback(client, "ivy", "ivy-pw", name="tampered")
        # Without RFC 9207's iss parameter (which already names another issuer), only
        # the ID token's signature against the JWKS of the metadata stands in the way.
        refused = await client.get(re.sub(r"&iss=[^&]+", "", callback))
        assert (await client.get("/api/v1/auth/me")).status_code == 401
    assert refused.status_code == 401
    assert "ID token is not valid" in refused.text


async def test_an_answer_whose_iss_parameter_names_another_issuer_is_refused(
    moorage, provider, tampered
):
    provider.set_account("jay", password="jay-pw", sub="sub-jay")
    async with browser(moorage) as client:
        callback = await to_callback(client, "jay", "jay-pw", name="tampered")
        assert "iss=" in callback
        refused = await client.get(callback)
    assert refused.status_code == 401
    assert "did not come from this provider" in refused.text


async def test_an_oidc_users_account_page_has_no_password_or_second_factor_forms(
    moorage, provider, admin
):
    provider.set_account("kim", password="kim-pw", sub="sub-kim")
    async with browser(moorage) as client:
        assert (await sign_in(client, "kim", "kim-pw")).status_code == 303
        page = await client.get("/account")
    assert page.status_code == 200
    assert 'id="signs-in-with-provider"' in page.text
    assert 'id="password-form"' not in page.text and 'id="two-factor"' not in page.text
