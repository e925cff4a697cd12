"""The Users, Groups, account and sign-up pages: they show what they should, their
forms reach the same services as the API, and they ask before destroying."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.conftest import App


async def alice_id(app: App) -> str:
    users = (await app.client.get("/api/v1/users")).json()
    return next(u["id"] for u in users if u["username"] == "alice")


async def test_users_page_lists_users_and_says_what_a_disable_ends(app: App, member):
    await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    page = await app.client.get("/admin/users")
    assert page.status_code == 200
    assert "alice" in page.text and "1 session" in page.text
    assert (
        "Disable alice? They cannot sign in until enabled again; their 1 live session" in page.text
    )
    assert "Delete alice? This cannot be undone" in page.text


async def test_users_page_forms_create_edit_disable_and_reset(app: App, member):
    await app.client.post("/api/v1/groups", json={"name": "team-a"})
    created = await app.client.post(
        "/admin/users",
        data={"username": "bob", "password": "bob-password", "role": "member"},
        headers={"HX-Request": "true"},
    )
    assert created.status_code == 204 and created.headers["HX-Redirect"] == "/admin/users"
    alice = await alice_id(app)
    edited = await app.client.post(
        f"/admin/users/{alice}",
        data={"display_name": "Alice M.", "role": "viewer", "groups": ["team-a"]},
    )
    assert edited.status_code == 303
    shown = next(u for u in (await app.client.get("/api/v1/users")).json() if u["id"] == alice)
    assert (shown["display_name"], shown["role"], shown["groups"]) == (
        "Alice M.",
        "viewer",
        ["team-a"],
    )
    reset = await app.client.post(f"/admin/users/{alice}/reset-password")
    assert "Shown once" in reset.text
    password = reset.text.split("data-new-password>")[1].split("<")[0]
    await app.login("alice", password)
    disabled = await app.client.post(f"/admin/users/{alice}/disable")
    assert disabled.status_code == 303
    assert (await member.get("/api/v1/auth/me")).status_code == 401
    bad_role = await app.client.post(f"/admin/users/{alice}", data={"role": "god"})
    assert bad_role.status_code == 422


async def test_a_member_cannot_use_the_admin_forms(app: App, member):
    alice = await alice_id(app)
    escalate = await member.post(
        f"/admin/users/{alice}", data={"role": "admin", "display_name": "x"}
    )
    assert escalate.status_code == 403
    assert (await member.get("/admin/groups")).status_code == 403


async def test_groups_page_sets_quotas_and_who_may_launch(app: App):
    made = await app.client.post(
        "/admin/groups",
        data={"name": "class-3b", "display_name": "Class 3B", "max_live_sessions": "4"},
    )
    assert made.status_code == 303, made.text
    org = await app.client.post("/admin/quota", data={"max_cpu_cores": "8", "max_memory_mb": ""})
    assert org.status_code == 303
    restricted = await app.client.post(
        "/admin/templates/debian-shell/groups", data={"groups": ["class-3b"]}
    )
    assert restricted.status_code == 303
    page = await app.client.get("/admin/groups")
    assert "Class 3B" in page.text and "max_live_sessions 4" in page.text
    assert (await app.client.get("/api/v1/orgs/default/quota")).json()["max_cpu_cores"] == 8
    assert (await app.client.get("/api/v1/templates/debian-shell/groups")).json() == {
        "groups": ["class-3b"]
    }
    bad = await app.client.post("/admin/groups/class-3b", data={"max_live_sessions": "-2"})
    assert bad.status_code == 422


async def test_account_page_changes_password_and_makes_a_token_shown_once(app: App, member):
    page = await member.get("/account")
    assert page.status_code == 200 and "Change your password" in page.text
    wrong = await member.post(
        "/account/password",
        data={"current_password": "nope", "new_password": "x" * 10, "confirm_password": "x" * 10},
    )
    assert wrong.status_code == 422
    changed = await member.post(
        "/account/password",
        data={
            "current_password": "alice-password",
            "new_password": "alice-new-pw",
            "confirm_password": "alice-new-pw",
        },
    )
    assert changed.status_code == 204
    card = await member.post(
        "/account/tokens", data={"name": "report", "scope": "read", "expires_in_days": "30"}
    )
    assert "data-new-token" in card.text and "report" in card.text
    again = await member.get("/account")
    assert "data-new-token" not in again.text and "report" in again.text


async def test_signup_is_closed_by_default(app: App):
    anonymous = httpx.AsyncClient(transport=app.client._transport, base_url="http://testserver")
    assert (await anonymous.get("/signup")).status_code == 404
    login = await anonymous.get("/login")
    assert "/signup" not in login.text


@pytest.fixture
def open_signup(app: App):
    settings = app.context.settings
    settings.signup_enabled = True
    settings.signup_email_domains = "school.example"
    settings.signup_group = "newcomers"
    yield app
    settings.signup_enabled = False


async def test_signup_checks_the_domain_and_joins_the_group(open_signup: App):
    app = open_signup
    await app.client.post("/api/v1/groups", json={"name": "newcomers"})
    anonymous = httpx.AsyncClient(
        transport=app.client._transport,
        base_url="http://testserver",
        headers={"Origin": "http://testserver"},
    )
    form = {"username": "carol", "email": "carol@gmail.example", "password": "carol-password"}
    refused = await anonymous.post("/signup", data=form)
    assert refused.status_code == 422 and "school.example" in refused.text
    done = await anonymous.post("/signup", data={**form, "email": "Carol@school.example"})
    assert done.status_code == 303 and done.headers["location"] == "/login?signed_up=1"
    carol = next(
        u for u in (await app.client.get("/api/v1/users")).json() if u["username"] == "carol"
    )
    assert carol["role"] == "member" and carol["groups"] == ["newcomers"]
    twice = await anonymous.post(
        "/signup", data={**form, "username": "carol2", "email": "carol@school.example"}
    )
    assert twice.status_code == 409
    assert isinstance(await app.login("carol", "carol-password"), httpx.AsyncClient)
