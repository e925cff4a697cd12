"""A session's pages: the end said in words (who, when), launching again, and a web
app framed under Moorage's bar with a policy that frames that app only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from moorage.db.base import utcnow
from moorage.models.session import WorkspaceSession
from moorage.services.kinds.http import HttpKind
from tests.unit.conftest import App


async def launch(client, template: str = "debian-shell") -> str:
    launched = await client.post("/api/v1/sessions", json={"template": template})
    assert launched.status_code == 201, launched.text
    return launched.json()["id"]


async def ended_text(client, session_id: str) -> str:
    fragment = await client.get(f"/ui/sessions/{session_id}/ended")
    assert fragment.status_code == 200, fragment.text
    return " ".join(fragment.text.split())


async def test_the_end_names_who_ended_the_session_to_each_viewer(app: App, member):
    mine = await launch(member)
    assert (await member.get(f"/ui/sessions/{mine}/ended")).status_code == 409  # still live
    assert (await member.delete(f"/api/v1/sessions/{mine}")).status_code == 200
    assert "(ended by you)" in await ended_text(member, mine)
    assert "(ended by its owner (alice))" in await ended_text(app.client, mine)

    theirs = await launch(member)
    assert (await app.client.delete(f"/api/v1/sessions/{theirs}")).status_code == 200
    text = await ended_text(member, theirs)
    assert "(ended by an admin (admin))" in text
    # The same template can be launched again from there, with its default duration.
    assert 'name="template" value="debian-shell"' in text and 'id="launch-again"' in text


async def test_a_session_reclaimed_at_its_deadline_says_its_time_was_up(app: App, member):
    session_id = await launch(member)
    async with app.context.sessionmaker() as db:
        row = await db.get(WorkspaceSession, session_id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        await db.commit()
    assert await app.context.sessions.release_by_id(session_id)  # the reconciler's call
    text = await ended_text(member, session_id)
    assert "This session ended at" in text and "(its time was up)" in text

    page = await member.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    assert "(its time was up)" in page.text and 'id="launch-again"' in page.text
    assert 'id="end-session"' not in page.text and 'id="terminal"' not in page.text


async def test_the_ended_card_is_only_for_the_sessions_owner_or_an_admin(app: App, member):
    session_id = await launch(app.client)
    await app.client.delete(f"/api/v1/sessions/{session_id}")
    assert (await member.get(f"/ui/sessions/{session_id}/ended")).status_code == 404


async def test_ending_from_the_session_page_shows_that_page_again(app: App, member):
    session_id = await launch(member)
    page = f"http://testserver/sessions/{session_id}"
    ended = await member.post(
        f"/ui/sessions/{session_id}/end", headers={"HX-Request": "true", "HX-Current-URL": page}
    )
    # Only the path is kept: a redirect never leaves Moorage's origin.
    assert ended.status_code == 204
    assert ended.headers["HX-Redirect"] == f"/sessions/{session_id}"


@pytest.fixture
def web_app_ready(monkeypatch):
    async def ready(self, started, timeout_seconds):
        return None

    monkeypatch.setattr(HttpKind, "wait_ready", ready)


async def test_a_web_app_opens_framed_under_moorages_bar(app: App, web_app_ready):
    app.driver.images.add("web:1")
    template = {"name": "web", "display_name": "Web", "kind": "http", "image": "web:1"}
    assert (await app.client.post("/api/v1/templates", json=template)).status_code == 201
    session_id = await launch(app.client, "web")

    page = await app.client.get(f"/sessions/{session_id}/app")
    assert page.status_code == 200
    assert f'<iframe id="app-frame" src="/s/{session_id}/"' in page.text
    assert 'id="time-left"' in page.text and 'id="open-app-tab"' in page.text
    # Single origin: the app is sandboxed by the proxy, so the frame gets no same-origin.
    assert "allow-same-origin" not in page.text
    policy = page.headers["content-security-policy"]
    assert policy.endswith("frame-ancestors 'self'; frame-src 'self'"), policy
    assert "'nonce-" in policy

    session_page = await app.client.get(f"/sessions/{session_id}")
    assert f'href="/sessions/{session_id}/app"' in session_page.text

    shell = await launch(app.client)
    assert (await app.client.get(f"/sessions/{shell}/app")).status_code == 404
    await app.client.delete(f"/api/v1/sessions/{session_id}")
    gone = await app.client.get(f"/sessions/{session_id}/app")
    assert gone.status_code == 303 and gone.headers["location"] == f"/sessions/{session_id}"


async def test_on_a_workspace_origin_the_app_page_may_frame_that_origin_only(
    app: App, web_app_ready
):
    app.context.settings.workspace_port = 9000
    app.driver.images.add("web:1")
    template = {"name": "web", "display_name": "Web", "kind": "http", "image": "web:1"}
    assert (await app.client.post("/api/v1/templates", json=template)).status_code == 201
    session_id = await launch(app.client, "web")
    page = await app.client.get(f"/sessions/{session_id}/app")
    assert page.headers["content-security-policy"].endswith(
        "frame-src 'self' http://testserver:9000"
    )
    assert "allow-same-origin" in page.text  # the app keeps its own origin in the frame
