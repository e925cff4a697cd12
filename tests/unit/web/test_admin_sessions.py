"""The admins' overview of sessions: the Sessions page and ``GET /api/v1/sessions``
list everyone's, filtered by user, template and state; ending one from the page
names its owner, stays on the page and is audited once; an admin's dashboard counts
the others' live sessions."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from moorage.models.audit import AuditEvent


async def launch(client, template: str = "debian-shell") -> str:
    answer = await client.post("/api/v1/sessions", json={"template": template})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def listed(page: str) -> list[str]:
    return re.findall(r'<tr data-session="([^"]+)" data-owner="([^"]+)"', page)


async def test_the_page_lists_every_live_session_with_its_owner(app, member):
    mine = await launch(app.client)
    theirs = await launch(member)
    page = await app.client.get("/admin/sessions")
    assert page.status_code == 200
    assert sorted(listed(page.text)) == sorted([(mine, "admin"), (theirs, "alice")])
    text = html.unescape(page.text)
    assert re.search(
        r"End the live session of alice \(Debian shell\), ending in (\d+ h )?\d+ min\?", text
    ), "the End confirmation names the owner and the time left"
    assert "End your Debian shell session" in text
    assert 'href="/admin/sessions"' in page.text  # the menu's link


async def test_the_page_filters_by_user_template_and_state(app, member):
    theirs = await launch(member)
    await launch(app.client)

    async def owners(**params) -> list[tuple[str, str]]:
        answer = await app.client.get("/admin/sessions", params=params)
        assert answer.status_code == 200, answer.text
        return listed(answer.text)

    assert await owners(owner="alice") == [(theirs, "alice")]
    assert await owners(owner="alice", template="no-such-template") == []
    await member.delete(f"/api/v1/sessions/{theirs}")
    assert await owners(owner="alice") == []
    assert await owners(owner="alice", state="ended") == [(theirs, "alice")]
    assert await owners(owner="alice", state="released") == [(theirs, "alice")]
    assert len(await owners(state="any")) == 2
    bad = await app.client.get("/admin/sessions", params={"state": "sleeping"})
    assert bad.status_code == 422
    assert "state must be one of live" in bad.text


async def test_members_cannot_see_the_overview_nor_list_others(app, member):
    await launch(app.client)
    assert (await member.get("/admin/sessions")).status_code == 403
    assert (await member.get("/api/v1/sessions", params={"all": "true"})).status_code == 403
    assert (await member.get("/api/v1/sessions", params={"owner": "admin"})).status_code == 403
    assert (await member.get("/api/v1/sessions", params={"owner": "alice"})).json() == []


async def test_the_api_lists_by_owner_template_and_state_for_admins(app, member):
    theirs = await launch(member)
    await launch(app.client)
    by_owner = await app.client.get("/api/v1/sessions", params={"owner": "alice"})
    assert [(s["id"], s["owner"]) for s in by_owner.json()] == [(theirs, "alice")]
    every = await app.client.get(
        "/api/v1/sessions", params={"all": "true", "template": "debian-shell", "state": "live"}
    )
    assert {s["owner"] for s in every.json()} == {"admin", "alice"}
    bad = await app.client.get("/api/v1/sessions", params={"state": "sleeping"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "state"


async def test_ending_from_the_page_stays_on_it_and_is_audited_once(app, member):
    theirs = await launch(member)
    ended = await app.client.post(
        f"/ui/sessions/{theirs}/end",
        data={"next": "/admin/sessions?owner=alice"},
        headers={"HX-Request": "true"},
    )
    assert ended.status_code == 204
    assert ended.headers["HX-Redirect"] == "/admin/sessions?owner=alice"
    elsewhere = await app.client.post(
        f"/ui/sessions/{theirs}/end", data={"next": "https://example.invalid/"}
    )
    assert elsewhere.headers["location"] == "/"  # only local paths
    assert (await member.get(f"/api/v1/sessions/{theirs}")).json()["state"] == "released"
    async with app.context.sessionmaker() as db:
        rows = list(await db.scalars(select(AuditEvent).where(AuditEvent.action == "session.end")))
    assert [(r.username, r.object_id) for r in rows] == [("admin", theirs)] * 2


async def test_an_admins_dashboard_points_to_the_others_live_sessions(app, member):
    page = await app.client.get("/")
    assert 'id="others-live"' not in page.text
    await launch(member)
    await launch(member, "debian-shell")
    page = await app.client.get("/")
    assert "You have no live sessions." in page.text
    assert re.search(
        r'id="others-live">2 other live sessions —\s*<a href="/admin/sessions"', page.text
    )
    fragment = await app.client.get("/ui/sessions")
    assert "2 other live sessions" in fragment.text
    assert 'id="others-live"' not in (await member.get("/")).text
