"""Orgs (issue 13): platform admins (admins of the default org) create, rename and
remove orgs; an org's own admins manage its settings and API keys, and see no
other org."""

from __future__ import annotations

import httpx

from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession as Session
from tests.unit.conftest import App

LAB = {
    "name": "lab",
    "display_name": "Lab",
    "admin": {"username": "lab-boss", "password": "boss-pw-1"},
}


async def _lab(app: App) -> tuple[dict, httpx.AsyncClient]:
    created = await app.client.post("/api/v1/orgs", json=LAB)
    assert created.status_code == 201, created.text
    return created.json(), await app.login("lab-boss", "boss-pw-1")


async def test_an_orgs_own_admin_manages_it_and_sees_no_other(app: App):
    created, boss = await _lab(app)
    assert created["name"] == "lab" and created["api_key"].startswith("mrg_")
    me = (await boss.get("/api/v1/auth/me")).json()
    assert (me["username"], me["role"]) == ("lab-boss", "admin")

    assert [org["name"] for org in (await boss.get("/api/v1/orgs")).json()] == ["lab"]
    assert [org["name"] for org in (await app.client.get("/api/v1/orgs")).json()] == [
        "default",
        "lab",
    ]
    # Another org is not there for them; creating, renaming, removing orgs is not theirs.
    assert (await boss.get("/api/v1/orgs/default")).status_code == 404
    assert (await boss.patch("/api/v1/orgs/default", json={"display_name": "X"})).status_code == 404
    assert (await boss.post("/api/v1/orgs/default/api-keys", json={})).status_code == 404
    assert (await boss.get("/api/v1/orgs/default/quota")).status_code == 404
    refused = await boss.post("/api/v1/orgs", json={"name": "mine"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "platform_admin_only"
    assert (await boss.patch("/api/v1/orgs/lab", json={"name": "lab9"})).status_code == 403
    assert (await boss.delete("/api/v1/orgs/lab")).status_code == 403
    # Their own: display name, keys, two-factor roles.
    renamed = await boss.patch("/api/v1/orgs/lab", json={"display_name": "Lab 2B"})
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Lab 2B"
    assert (await boss.post("/api/v1/orgs/lab/api-keys", json={})).status_code == 201
    # Their users are made in their org, not the default one.
    made = await boss.post(
        "/api/v1/users", json={"username": "pupil", "password": "pupil-pw-1", "role": "member"}
    )
    assert made.status_code == 201
    assert "pupil" not in [
        user["username"] for user in (await app.client.get("/api/v1/users")).json()
    ]
    await boss.aclose()


async def test_a_platform_admin_renames_an_org_and_its_keys_keep_working(app: App):
    created, boss = await _lab(app)
    key = created["api_key"]
    bad = await app.client.patch("/api/v1/orgs/lab", json={"name": "Not A Name"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "name"
    assert (await app.client.patch("/api/v1/orgs/lab", json={"name": "default"})).status_code == 409
    default = await app.client.patch("/api/v1/orgs/default", json={"name": "main"})
    assert default.status_code == 422

    renamed = await app.client.patch("/api/v1/orgs/lab", json={"name": "physics"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "physics"
    assert (await app.client.get("/api/v1/orgs/lab")).status_code == 404
    me = await app.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["username"] == "physics-api"
    assert [org["name"] for org in (await boss.get("/api/v1/orgs")).json()] == ["physics"]
    audit = await app.client.get("/api/v1/audit", params={"action": "org.rename"})
    assert [event["detail"] for event in audit.json()] == ["lab -> physics"]
    await boss.aclose()


async def test_rotating_revokes_every_key_of_the_org(app: App):
    created, boss = await _lab(app)
    old = [
        created["api_key"],
        (await boss.post("/api/v1/orgs/lab/api-keys", json={})).json()["api_key"],
    ]
    rotated = await boss.post("/api/v1/orgs/lab/api-keys/rotate")
    assert rotated.status_code == 201 and rotated.json()["revoked"] == 2
    new = rotated.json()["api_key"]
    for key in old:
        gone = await app.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
        assert gone.status_code == 401
    works = await app.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new}"})
    assert works.json()["username"] == "lab-api"
    # The admin's own login is not an org key: it still works.
    assert (await boss.get("/api/v1/orgs")).status_code == 200
    await boss.aclose()


async def test_removing_an_org_ends_its_sessions_and_credentials(app: App):
    created, boss = await _lab(app)
    app.driver.images.add("shell:1")
    environment = await boss.post(
        "/api/v1/environments", json={"name": "lab-docker", "url": "unix:///var/run/docker.sock"}
    )
    assert environment.status_code == 201, environment.text
    template = {"name": "shell", "display_name": "Shell", "kind": "terminal", "image": "shell:1"}
    assert (await boss.post("/api/v1/templates", json=template)).status_code == 201
    launched = await boss.post("/api/v1/sessions", json={"template": "shell"})
    assert launched.status_code == 201, launched.text
    session_id = launched.json()["id"]

    assert (await app.client.delete("/api/v1/orgs/default")).status_code == 409
    assert (await app.client.delete("/api/v1/orgs/nowhere")).status_code == 404
    removed = await app.client.delete("/api/v1/orgs/lab")
    assert removed.status_code == 204, removed.text

    assert (await boss.get("/api/v1/orgs")).status_code == 401
    key = {"Authorization": f"Bearer {created['api_key']}"}
    assert (await app.client.get("/api/v1/auth/me", headers=key)).status_code == 401
    async with app.context.sessionmaker() as db:
        session = await db.get(Session, session_id)
        assert session is not None and session.state == LeaseState.RELEASED.value
    assert not app.driver.containers
    assert [org["name"] for org in (await app.client.get("/api/v1/orgs")).json()] == ["default"]
    assert (await app.client.get("/api/v1/orgs/lab")).status_code == 404
    # The names are free again: the org's and its users' (their rows stay, renamed).
    again = await app.client.post("/api/v1/orgs", json=LAB)
    assert again.status_code == 201, again.text
    audit = await app.client.get("/api/v1/audit", params={"action": "org.remove"})
    assert [event["object_id"] for event in audit.json()] == ["lab"]
    await boss.aclose()
