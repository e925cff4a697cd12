"""Share links: who may create them, what they open and for whom, until when, and the
audit trail (through the API and the pages, on the fake driver)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from moorage.models.share import ShareGrant, ShareLink
from moorage.services.shares import grant_cookie_name
from tests.unit.conftest import BASE_URL, SAME_ORIGIN, App


async def _user(app: App, name: str, role: str) -> httpx.AsyncClient:
    made = await app.client.post(
        "/api/v1/users", json={"username": name, "password": f"{name}-password", "role": role}
    )
    assert made.status_code == 201, made.text
    return await app.login(name, f"{name}-password")


def _anonymous(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    )


def _path(url: str) -> str:
    return url.split(BASE_URL, 1)[1]


async def test_the_owner_an_admin_and_the_workshops_instructor_share_a_session_no_one_else(
    app: App,
):
    alice = await _user(app, "alice", "member")
    bob = await _user(app, "bob", "member")
    teacher = await _user(app, "teacher", "instructor")
    other_teacher = await _user(app, "teacher2", "instructor")
    operator = await _user(app, "ops", "operator")
    workshop = await teacher.post(
        "/api/v1/workshops", json={"title": "Shell 101", "template": "debian-shell", "capacity": 5}
    )
    assert workshop.status_code == 201, workshop.text
    joined = await alice.post("/api/v1/workshops/join", json={"code": workshop.json()["join_code"]})
    assert joined.status_code == 200, joined.text
    seat = joined.json()["session_id"]
    own = (await alice.post("/api/v1/sessions", json={"template": "debian-shell"})).json()["id"]
    for session_id, allowed, refused in [
        (seat, (alice, teacher, app.client), (bob, operator, other_teacher)),
        # Outside the workshop the instructor is like any member.
        (own, (alice, app.client), (bob, operator, teacher, other_teacher)),
    ]:
        shares = f"/api/v1/sessions/{session_id}/shares"
        for client in allowed:
            made = await client.post(shares, json={"role": "observer"})
            assert made.status_code == 201, made.text
            assert made.json()["url"].startswith(f"{BASE_URL}/share/msh_")
        for client in refused:
            assert (await client.post(shares, json={"role": "peer"})).status_code == 404
            assert (await client.get(shares)).status_code == 404
    listed = (await alice.get(f"/api/v1/sessions/{seat}/shares")).json()
    assert [s["created_by"] for s in listed] == ["admin", "teacher", "alice"]
    assert all(s["url"] is None and s["state"] == "active" for s in listed)


async def test_a_link_never_outlives_its_session_and_only_its_hash_is_kept(app: App):
    alice = await _user(app, "alice", "member")
    session = (
        await alice.post(
            "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 30}
        )
    ).json()
    shares = f"/api/v1/sessions/{session['id']}/shares"
    default = (await alice.post(shares, json={})).json()
    assert default["role"] == "observer"
    assert default["expires_at"] == session["expires_at"]  # 60 min asked, 30 left
    short = (await alice.post(shares, json={"minutes": 5})).json()
    expires = datetime.fromisoformat(short["expires_at"])
    assert expires < datetime.fromisoformat(session["expires_at"]) - timedelta(minutes=20)
    bad = await alice.post(shares, json={"role": "owner"})
    assert bad.status_code == 422
    token = _path(short["url"]).removeprefix("/share/")
    async with app.context.sessionmaker() as db:
        rows = list(await db.scalars(select(ShareLink)))
    assert len(rows) == 2
    assert all(token not in (r.token_hash, r.token_prefix) for r in rows)
    # A token of the same shape with another secret opens nothing.
    forged = token[: token.rindex("_", 0, 20) + 1] + "x" * 43
    assert (await _anonymous(app).get(f"/share/{forged}")).status_code == 404
    assert (await _anonymous(app).get("/share/mrg_0123456789_abc")).status_code == 404


async def test_a_link_for_anyone_asks_a_name_and_a_revoked_one_is_gone(app: App):
    alice = await _user(app, "alice", "member")
    session = (await alice.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    made = (
        await alice.post(f"/api/v1/sessions/{session['id']}/shares", json={"role": "peer"})
    ).json()
    guest = _anonymous(app)
    page = await guest.get(_path(made["url"]))
    assert page.status_code == 200 and 'name="display_name"' in page.text
    nameless = await guest.post(_path(made["url"]), data={"display_name": "  "})
    assert nameless.status_code == 422
    opened = await guest.post(_path(made["url"]), data={"display_name": "Guest Gil"})
    assert opened.status_code == 303 and opened.headers["location"] == f"/shared/{session['id']}"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(grant_cookie_name(session["id"]))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    shared = await guest.get(f"/shared/{session['id']}")
    assert shared.status_code == 200 and "Guest Gil" in shared.text
    assert (await guest.get(f"/ui/shared/{session['id']}/state")).json()["role"] == "peer"
    revoked = await alice.delete(f"/api/v1/sessions/{session['id']}/shares/{made['id']}")
    assert revoked.status_code == 204
    assert (await guest.get(_path(made["url"]))).status_code == 410
    assert (await guest.get(f"/shared/{session['id']}")).status_code == 410
    assert (await guest.get(f"/ui/shared/{session['id']}/state")).status_code == 410
    assert (await alice.get(f"/api/v1/sessions/{session['id']}/shares")).json()[0][
        "state"
    ] == "revoked"


async def test_a_named_link_needs_that_user_signed_in_every_time(app: App):
    alice = await _user(app, "alice", "member")
    bob = await _user(app, "bob", "member")
    carol = await _user(app, "carol", "member")
    session = (await alice.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    shares = f"/api/v1/sessions/{session['id']}/shares"
    unknown = await alice.post(shares, json={"users": ["nobody"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "users"
    made = (await alice.post(shares, json={"role": "observer", "users": ["bob"]})).json()
    assert made["users"] == ["bob"]
    path = _path(made["url"])
    anonymous = await _anonymous(app).get(path)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next={path}"
    assert (await carol.get(path)).status_code == 404  # not for her: as if no link
    assert (await carol.post(path)).status_code == 404
    page = await bob.get(path)
    assert page.status_code == 200 and 'name="display_name"' not in page.text
    opened = await bob.post(path)
    assert opened.status_code == 303
    value = bob.cookies.get(grant_cookie_name(session["id"]))
    assert (await bob.get(f"/shared/{session['id']}")).status_code == 200
    # The grant alone (Bob signed out, or the cookie copied elsewhere) opens nothing.
    # (A page's 401 sends the browser to sign in.)
    copied = _anonymous(app)
    copied.cookies.set(grant_cookie_name(session["id"]), value)
    for client in (copied, carol):
        client.cookies.set(grant_cookie_name(session["id"]), value)
        refused = await client.get(f"/shared/{session['id']}")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
        assert (await client.get(f"/ui/shared/{session['id']}/state")).status_code in (303, 401)


async def test_sharing_is_audited(app: App):
    alice = await _user(app, "alice", "member")
    session = (await alice.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    made = (await alice.post(f"/api/v1/sessions/{session['id']}/shares", json={})).json()
    guest = _anonymous(app)
    await guest.post(_path(made["url"]), data={"display_name": "Olga"})
    await alice.delete(f"/api/v1/sessions/{session['id']}/shares/{made['id']}")
    events = (await app.client.get("/api/v1/audit", params={"limit": 50})).json()
    rows = events["events"] if isinstance(events, dict) else events
    seen = {(e["username"], e["action"]) for e in rows}
    assert {
        ("alice", "share.create"),
        ("guest Olga", "share.open"),
        ("alice", "share.revoke"),
    } <= seen
    async with app.context.sessionmaker() as db:
        (grant,) = list(await db.scalars(select(ShareGrant)))
    assert grant.display_name == "Olga" and grant.user_id is None


async def test_the_session_page_shows_the_sharing_section_to_its_owner(app: App):
    alice = await _user(app, "alice", "member")
    session = (await alice.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    page = await alice.get(f"/sessions/{session['id']}")
    assert 'id="sharing"' in page.text
    made = await alice.post(
        f"/ui/sessions/{session['id']}/shares",
        data={"role": "peer", "minutes": "15", "users": ""},
        headers={"HX-Request": "true"},
    )
    assert made.status_code == 200 and "/share/msh_" in made.text
    assert made.headers["HX-Trigger"] == "sharing-changed"
    fragment = await alice.get(f"/ui/sessions/{session['id']}/sharing")
    assert 'data-role="peer"' in fragment.text and "Nobody is connected" in fragment.text
