"""Users, groups and tokens through the API: what admins change, what a member may
not (as an attacker with a member account would try), and token scopes."""

from __future__ import annotations

import httpx

from tests.unit.conftest import BASE_URL, App


async def user_id(app: App, username: str) -> str:
    users = (await app.client.get("/api/v1/users")).json()
    return next(u["id"] for u in users if u["username"] == username)


def bearer(app: App, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=app.client._transport,
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_admin_edits_display_name_role_and_groups(app: App, member):
    await app.client.post("/api/v1/groups", json={"name": "team-a"})
    alice = await user_id(app, "alice")
    response = await app.client.patch(
        f"/api/v1/users/{alice}",
        json={"display_name": "Alice A.", "role": "instructor", "groups": ["team-a"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["display_name"], body["role"], body["groups"]) == (
        "Alice A.",
        "instructor",
        ["team-a"],
    )
    unknown = await app.client.patch(f"/api/v1/users/{alice}", json={"groups": ["nope"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "groups"
    group = (await app.client.get("/api/v1/groups/team-a")).json()
    assert group["members"] == ["alice"]


async def test_a_member_cannot_make_themselves_admin_or_see_users(app: App, member):
    me = (await member.get("/api/v1/auth/me")).json()
    assert (
        await member.patch(f"/api/v1/users/{me['id']}", json={"role": "admin"})
    ).status_code == 403
    assert (await member.get("/api/v1/users")).status_code == 403
    assert (await member.post(f"/api/v1/users/{me['id']}/password-reset")).status_code == 403
    assert (await member.get("/api/v1/auth/me")).json()["role"] == "member"


async def test_an_admin_cannot_demote_disable_or_delete_themselves(app: App):
    me = (await app.client.get("/api/v1/auth/me")).json()["id"]
    demote = await app.client.patch(f"/api/v1/users/{me}", json={"role": "member"})
    disable = await app.client.patch(f"/api/v1/users/{me}", json={"is_active": False})
    delete = await app.client.delete(f"/api/v1/users/{me}")
    assert [r.status_code for r in (demote, disable, delete)] == [409, 409, 409]
    assert demote.json()["error"]["code"] == "own_account"


async def test_disabling_releases_sessions_and_revokes_tokens(app: App, member):
    token = (await member.post("/api/v1/tokens", json={"name": "ci"})).json()["token"]
    session = (await member.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    assert len(app.driver.containers) == 1
    alice = await user_id(app, "alice")
    response = await app.client.patch(f"/api/v1/users/{alice}", json={"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False
    ended = (await app.client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert ended["state"] == "released" and not app.driver.containers
    assert (await member.get("/api/v1/auth/me")).status_code == 401
    async with bearer(app, token) as script:
        assert (await script.get("/api/v1/auth/me")).status_code == 401
    login = await app.client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "alice-password"}
    )
    assert login.status_code == 401
    enabled = await app.client.patch(f"/api/v1/users/{alice}", json={"is_active": True})
    assert enabled.json()["is_active"] is True
    assert (await app.login("alice", "alice-password")) is not None


async def test_deleting_frees_the_name_and_hides_the_user(app: App, member):
    await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    alice = await user_id(app, "alice")
    assert (await app.client.delete(f"/api/v1/users/{alice}")).status_code == 204
    assert not app.driver.containers
    names = [u["username"] for u in (await app.client.get("/api/v1/users")).json()]
    assert "alice" not in names
    assert (
        await app.client.patch(f"/api/v1/users/{alice}", json={"role": "viewer"})
    ).status_code == 404
    again = await app.client.post(
        "/api/v1/users", json={"username": "alice", "password": "new-alice-pw"}
    )
    assert again.status_code == 201, again.text


async def test_reset_password_is_shown_once_and_works(app: App, member):
    alice = await user_id(app, "alice")
    reset = await app.client.post(f"/api/v1/users/{alice}/password-reset")
    password = reset.json()["password"]
    assert len(password) >= 12
    assert (await member.get("/api/v1/auth/me")).status_code == 401  # signed out
    old = await app.client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "alice-password"}
    )
    assert old.status_code == 401
    await app.login("alice", password)


async def test_a_read_token_reads_but_cannot_change_anything(app: App, member):
    made = await member.post(
        "/api/v1/tokens", json={"name": "dashboard", "scope": "read", "expires_in_days": 7}
    )
    assert made.status_code == 201 and made.json()["scope"] == "read"
    assert made.json()["expires_at"] is not None
    async with bearer(app, made.json()["token"]) as reader:
        assert (await reader.get("/api/v1/sessions")).status_code == 200
        launch = await reader.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launch.status_code == 403 and launch.json()["error"]["code"] == "token_read_only"
        more = await reader.post("/api/v1/tokens", json={"name": "escalate"})
        assert more.status_code == 403
        seed = await reader.get("/reserve", params={"count": 1})  # a seed route that changes on GET
        assert seed.status_code == 403
    assert not app.driver.containers


async def test_tokens_are_listed_and_revoked_by_their_owner_only(app: App, member):
    mine = (await member.post("/api/v1/tokens", json={"name": "mine"})).json()
    admins = (await app.client.post("/api/v1/tokens", json={"name": "admins"})).json()
    listed = (await member.get("/api/v1/tokens")).json()
    assert [t["name"] for t in listed] == ["mine"]
    assert "token" not in listed[0] and listed[0]["prefix"] in mine["token"]
    admin_tokens = (await app.client.get("/api/v1/tokens")).json()
    theirs = next(t for t in admin_tokens if t["name"] == "admins")
    assert (await member.delete(f"/api/v1/tokens/{theirs['id']}")).status_code == 404
    async with bearer(app, admins["token"]) as still:
        assert (await still.get("/api/v1/auth/me")).status_code == 200
    assert (await member.delete(f"/api/v1/tokens/{listed[0]['id']}")).status_code == 204
    async with bearer(app, mine["token"]) as revoked:
        assert (await revoked.get("/api/v1/auth/me")).status_code == 401


async def test_changing_own_password_needs_the_current_one(app: App, member):
    wrong = await member.post(
        "/api/v1/account/password",
        json={"current_password": "not-it", "new_password": "a-new-password"},
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "current_password"
    short = await member.post(
        "/api/v1/account/password",
        json={"current_password": "alice-password", "new_password": "short"},
    )
    assert short.status_code == 422
    other_login = await app.login("alice", "alice-password")
    done = await member.post(
        "/api/v1/account/password",
        json={"current_password": "alice-password", "new_password": "a-new-password"},
    )
    assert done.status_code == 204
    assert (await member.get("/api/v1/auth/me")).status_code == 200  # this login stays
    assert (await other_login.get("/api/v1/auth/me")).status_code == 401  # others end
    await app.login("alice", "a-new-password")


async def test_restricted_template_is_hidden_and_launch_names_the_group(app: App, member):
    await app.client.post("/api/v1/groups", json={"name": "class-3b"})
    put = await app.client.put(
        "/api/v1/templates/debian-shell/groups", json={"groups": ["class-3b"]}
    )
    assert put.json() == {"groups": ["class-3b"]}
    # (the other templates of the first start's catalog are not restricted)
    assert "debian-shell" not in [t["name"] for t in (await member.get("/api/v1/templates")).json()]
    refused = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "group_required"
    assert "class-3b" in refused.json()["error"]["message"]
    home = await member.get("/")
    assert "debian-shell" not in home.text
    alice = await user_id(app, "alice")
    await app.client.patch(f"/api/v1/users/{alice}", json={"groups": ["class-3b"]})
    assert "debian-shell" in [t["name"] for t in (await member.get("/api/v1/templates")).json()]
    launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text


async def test_restricted_pool_refuses_a_reservation_naming_the_group(app: App, member):
    machines = "m1 127.0.0.1 22 root password-1\n"
    assert (await app.client.post("/api/v1/machines/import", content=machines)).is_success
    await app.context.prober.run()
    await app.client.post("/api/v1/groups", json={"name": "lab-staff"})
    put = await app.client.put("/api/v1/pools/default/groups", json={"groups": ["lab-staff"]})
    assert put.status_code == 200, put.text
    refused = await member.post("/api/v1/reservations", json={"count": 1})
    assert refused.status_code == 403 and "lab-staff" in refused.json()["error"]["message"]
    assert not any(app.connector.accounts.values())
    await app.client.put("/api/v1/pools/default/groups", json={"groups": []})
    assert (await member.post("/api/v1/reservations", json={"count": 1})).status_code == 201


async def test_group_crud_and_quota_validation(app: App):
    made = await app.client.post(
        "/api/v1/groups", json={"name": "g", "display_name": "G", "max_live_sessions": 3}
    )
    assert made.status_code == 201 and made.json()["max_live_sessions"] == 3
    assert (await app.client.post("/api/v1/groups", json={"name": "g"})).status_code == 409
    bad = await app.client.patch("/api/v1/groups/g", json={"max_live_sessions": -1})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "max_live_sessions"
    cleared = await app.client.patch("/api/v1/groups/g", json={"max_live_sessions": None})
    assert cleared.json()["max_live_sessions"] is None
    other_org = await app.client.get("/api/v1/orgs/elsewhere/quota")
    assert other_org.status_code == 404
    assert (await app.client.delete("/api/v1/groups/g")).status_code == 204
    assert (await app.client.get("/api/v1/groups/g")).status_code == 404


async def test_disabling_releases_reservations_and_their_machine_accounts(app: App, member):
    machines = "m1 127.0.0.1 22 root password-1\n"
    assert (await app.client.post("/api/v1/machines/import", content=machines)).is_success
    await app.context.prober.run()
    reserved = await member.post("/api/v1/reservations", json={"count": 1})
    assert reserved.status_code == 201, reserved.text
    assert any(app.connector.accounts.values())
    alice = await user_id(app, "alice")
    assert (await app.client.patch(f"/api/v1/users/{alice}", json={"is_active": False})).is_success
    state = (await app.client.get(f"/api/v1/reservations/{reserved.json()['id']}")).json()["state"]
    assert state == "released" and not any(app.connector.accounts.values())
