"""The admins' OpenID Connect provider settings (``/api/v1/directory/oidc`` and the
settings page): the client secret is sealed and never shown, bad settings are 422
naming the field, other roles are refused and another org sees nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from moorage.models.oidc import OidcProvider
from moorage.models.org import Org
from moorage.models.user import Role
from moorage.services.oidc_providers import SECRET_CONTEXT
from moorage.services.users import create_user
from tests.live_server import free_port
from tests.unit.conftest import BASE_URL, App

SECRET = "the-client-secret-1234"
BODY = {
    "name": "corp",
    "display_name": "Corp SSO",
    "issuer": "https://sso.example.org/realms/school",
    "client_id": "moorage",
    "client_secret": SECRET,
    "rules": [{"group": "teachers", "role": "instructor", "groups": ["staff"]}],
}


async def add(app: App, **changes) -> httpx.Response:
    return await app.client.post("/api/v1/directory/oidc", json={**BODY, **changes})


async def other_org_admin(app: App) -> httpx.AsyncClient:
    """A client logged in as the admin of a second org, ``lab``."""
    made = await app.client.post("/api/v1/orgs", json={"name": "lab"})
    assert made.status_code == 201, made.text
    async with app.context.sessionmaker() as db:
        org_id = await db.scalar(select(Org.id).where(Org.name == "lab"))
        assert org_id is not None
        await create_user(
            db, org_id=org_id, username="lab-admin", password="lab-admin-pw", role=Role.ADMIN
        )
        await db.commit()
    return await app.login("lab-admin", "lab-admin-pw")


async def test_a_provider_is_added_with_its_secret_sealed_and_never_shown(app: App):
    made = await add(app)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert shown["client_secret_set"] is True
    assert shown["redirect_uri"] == "http://testserver/login/oidc/corp/callback"
    assert (shown["groups_claim"], shown["username_claim"]) == ("groups", "preferred_username")
    listed = await app.client.get("/api/v1/directory/oidc")
    page = await app.client.get("/admin/directory")
    for text in (made.text, listed.text, page.text):
        assert SECRET not in text
    assert "http://testserver/login/oidc/corp/callback" in page.text
    async with app.context.sessionmaker() as db:
        row = await db.scalar(select(OidcProvider).where(OidcProvider.name == "corp"))
    assert row is not None and row.client_secret_sealed is not None
    assert SECRET not in row.client_secret_sealed
    assert app.context.keyring.open(row.client_secret_sealed, SECRET_CONTEXT) == SECRET


async def test_an_update_keeps_the_secret_unless_told_and_an_empty_one_removes_it(app: App):
    assert (await add(app)).status_code == 201
    kept = await app.client.patch("/api/v1/directory/oidc/corp", json={"display_name": "Corp"})
    assert kept.status_code == 200, kept.text
    assert (kept.json()["display_name"], kept.json()["client_secret_set"]) == ("Corp", True)
    removed = await app.client.patch("/api/v1/directory/oidc/corp", json={"client_secret": ""})
    assert removed.json()["client_secret_set"] is False
    audit = await app.client.get("/api/v1/audit", params={"action": "oidc_provider.update"})
    assert "client_secret" in audit.text and SECRET not in audit.text


async def test_bad_settings_are_422_naming_the_field(app: App):
    cases = [
        ({"issuer": "http://sso.example.org"}, "issuer"),  # plain http off loopback
        ({"issuer": "ftp://sso.example.org"}, "issuer"),
        ({"issuer": "https://sso.example.org/?x=1"}, "issuer"),
        ({"scopes": "profile email"}, "scopes"),
        ({"rules": [{"group": "t", "role": "king"}]}, "rules[0].role"),
        ({"rules": [{"role": "admin"}]}, "rules[0].group"),
        ({"default_role": "king"}, "default_role"),
        ({"name": "Not A Name"}, "name"),
        ({"groups_claim": "has space"}, "groups_claim"),
    ]
    for changes, field in cases:
        response = await add(app, **changes)
        assert response.status_code == 422, (changes, response.text)
        assert response.json()["error"]["field"] == field, (changes, response.text)
    assert (await app.client.get("/api/v1/directory/oidc")).json() == []  # nothing half-made


async def test_http_is_allowed_on_loopback_and_a_discovery_url_is_kept(app: App):
    made = await add(app, issuer="http://127.0.0.1:9/.well-known/openid-configuration")
    assert made.status_code == 201, made.text
    assert made.json()["issuer"] == "http://127.0.0.1:9/.well-known/openid-configuration"


async def test_a_name_taken_is_409(app: App):
    assert (await add(app)).status_code == 201
    again = await add(app)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "oidc_provider_name_taken"


async def test_other_roles_are_refused_and_another_orgs_admin_sees_nothing(app: App, member):
    assert (await add(app)).status_code == 201
    assert (await member.get("/api/v1/directory/oidc")).status_code == 403
    changed = await member.patch("/api/v1/directory/oidc/corp", json={"enabled": False})
    assert changed.status_code == 403
    assert (await member.get("/admin/directory")).status_code == 403
    stranger = await other_org_admin(app)
    try:
        assert (await stranger.get("/api/v1/directory/oidc")).json() == []
        assert "Corp SSO" not in (await stranger.get("/admin/directory")).text
        for method, path in [
            ("PATCH", "/api/v1/directory/oidc/corp"),
            ("DELETE", "/api/v1/directory/oidc/corp"),
            ("POST", "/admin/directory/oidc/corp"),
            ("POST", "/admin/directory/oidc/corp/delete"),
        ]:
            response = await stranger.request(method, path, json={"enabled": False})
            assert response.status_code == 404, (method, path, response.text)
    finally:
        await stranger.aclose()
    still = (await app.client.get("/api/v1/directory/oidc")).json()
    assert [(p["name"], p["enabled"]) for p in still] == [("corp", True)]


async def test_the_login_page_has_a_button_per_enabled_provider(app: App):
    assert (await add(app)).status_code == 201
    assert (await add(app, name="off", display_name="Old SSO", enabled=False)).status_code == 201
    async with httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL) as c:
        page = await c.get("/login?next=/reservations")
        assert "Sign in with Corp SSO" in page.text
        assert 'href="/login/oidc/corp?next=/reservations"' in page.text
        assert "Old SSO" not in page.text
        assert (await c.get("/login/oidc/off")).status_code == 404
        assert (await c.get("/login/oidc/nobody/callback?state=x&code=y")).status_code == 404


async def test_the_settings_page_adds_saves_and_removes_a_provider(app: App):
    form = {
        "name": "corp",
        "display_name": "Corp SSO",
        "issuer": "https://sso.example.org",
        "client_id": "moorage",
        "client_secret": SECRET,
        "scopes": "openid profile groups",
        "groups_claim": "roles",
        "username_claim": "preferred_username",
        "default_role": "viewer",
        "rules": '[{"group": "ops", "role": "operator"}]',
        "enabled": "on",
    }
    made = await app.client.post("/admin/directory/oidc", data=form)
    assert made.status_code == 303, made.text
    shown = (await app.client.get("/api/v1/directory/oidc")).json()[0]
    assert (shown["groups_claim"], shown["default_role"], shown["client_secret_set"]) == (
        "roles",
        "viewer",
        True,
    )
    assert shown["rules"] == [{"group": "ops", "role": "operator", "groups": []}]
    # Saved with an empty secret box and the checkbox off: the secret stays, disabled.
    saved = await app.client.post(
        "/admin/directory/oidc/corp", data={**form, "client_secret": "", "enabled": ""}
    )
    assert saved.status_code == 303, saved.text
    shown = (await app.client.get("/api/v1/directory/oidc")).json()[0]
    assert (shown["enabled"], shown["client_secret_set"]) == (False, True)
    for rules in ("[not json", "[" * 100_000, '{"group": "x"}', "[1]"):
        bad = await app.client.post("/admin/directory/oidc/corp", data={**form, "rules": rules})
        assert bad.status_code == 422 and "rules" in bad.text, rules[:20]
    gone = await app.client.post("/admin/directory/oidc/corp/delete")
    assert gone.status_code == 303
    assert (await app.client.get("/api/v1/directory/oidc")).json() == []


async def test_starting_sign_ins_is_throttled_per_address(app: App):
    assert (await add(app, issuer=f"http://127.0.0.1:{free_port()}")).status_code == 201
    async with httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL) as c:
        answers = [(await c.get("/login/oidc/corp")).status_code for _ in range(21)]
        last = await c.get("/login/oidc/corp")
    # Nothing listens on the issuer's port: each start is refused by the provider's
    # absence (503, on the login page) until the address used up its starts.
    assert answers[:20] == [503] * 20
    assert (answers[20], last.status_code) == (429, 429)
    assert int(last.headers["Retry-After"]) >= 1
    assert "too many sign-ins started from your address" in last.text
    assert 'name="password"' in last.text  # the password form is still there


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?state=%C3%A9t%C3%A9&code=x",
        "?state=x&code=y",
        "?error=access_denied",
        "?state=" + "x" * 5000,
    ],
)
async def test_a_callback_without_a_sign_in_of_this_browser_is_refused_on_the_login_page(
    app: App, query
):
    assert (await add(app)).status_code == 201
    async with httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL) as c:
        c.cookies.set("moorage_oidc_state", "x", path="/login/oidc/corp/")
        refused = await c.get("/login/oidc/corp/callback" + query)
    assert refused.status_code == 401, refused.text
    assert 'name="password"' in refused.text
    assert "moorage_login" not in refused.headers.get("set-cookie", "")
