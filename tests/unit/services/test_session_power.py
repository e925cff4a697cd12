"""Stopping a session and starting it again, through the API, the pages and the
reconciler, on the fake driver."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.models.audit import AuditEvent
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.services.kinds.ssh import SshKind
from tests.unit.conftest import App


async def launch(client, **extra) -> dict:
    response = await client.post("/api/v1/sessions", json={"template": "debian-shell", **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def row_of(app: App, session_id: str) -> WorkspaceSession:
    async with app.context.sessionmaker() as db:
        row = await db.get(WorkspaceSession, session_id, populate_existing=True)
        assert row is not None
        return row


async def test_stop_keeps_the_container_and_start_makes_it_ready_again(app: App):
    launched = await launch(app.client)
    (container_id,) = app.driver.containers

    stopped = await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["state"] == "stopped"
    assert stopped.json()["expires_at"] == launched["expires_at"]  # the clock still runs
    assert app.driver.containers[container_id].state == "exited"  # kept, not removed
    assert not app.driver.removed
    deadline = app.context.reconciler.queue.deadline(("session", launched["id"]))
    assert deadline is not None

    started = await app.client.post(f"/api/v1/sessions/{launched['id']}/start")
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "ready"
    assert app.driver.containers[container_id].state == "running"
    assert app.driver.starts == [container_id]

    async with app.context.sessionmaker() as db:
        actions = list(
            await db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_id == launched["id"])
                .order_by(AuditEvent.at)
            )
        )
    assert actions == ["session.launch", "session.stop", "session.start"]


async def test_start_gives_the_secret_again_and_records_moved_ports(app: App, monkeypatch):
    """An ssh session keeps its account and password; the engine may publish its
    port elsewhere after a restart, and the session then says where."""
    probed: list[dict[int, int]] = []

    async def ready(self, started, timeout_seconds):
        probed.append(started.container.ports)  # the readiness check sees the new port

    monkeypatch.setattr(SshKind, "wait_ready", ready)
    response = await app.client.post(
        "/api/v1/templates",
        json={
            "name": "ssh-on-terminal",
            "display_name": "SSH box",
            "image": "moorage/terminal:latest",
            "kind": "ssh",
        },
    )
    assert response.status_code == 201, response.text
    session = await launch(app.client, template="ssh-on-terminal")
    (container_id,) = app.driver.containers
    secret = app.driver.secrets[container_id]
    before = session["connection"]["port"]

    await app.client.post(f"/api/v1/sessions/{session['id']}/stop")
    app.driver.secrets.clear()  # the tmpfs is empty after a stop
    app.driver.port_shift = 7
    started = (await app.client.post(f"/api/v1/sessions/{session['id']}/start")).json()
    assert app.driver.secrets[container_id] == secret
    assert started["connection"]["port"] == before + 7
    assert started["connection"]["password"] == secret
    assert (await row_of(app, session["id"])).ports == {"22": before + 7}
    assert probed == [{22: before}, {22: before + 7}]


async def test_stop_and_start_in_the_wrong_state_are_409_saying_why(app: App):
    launched = await launch(app.client)
    not_stopped = await app.client.post(f"/api/v1/sessions/{launched['id']}/start")
    assert not_stopped.status_code == 409
    assert not_stopped.json()["error"]["code"] == "session_not_stopped"
    assert (
        "only a stopped session can be started; this one is ready"
        in (not_stopped.json()["error"]["message"])
    )

    await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    twice = await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "session_not_ready"
    assert "this one is stopped" in twice.json()["error"]["message"]

    await app.client.delete(f"/api/v1/sessions/{launched['id']}")
    ended = await app.client.post(f"/api/v1/sessions/{launched['id']}/start")
    assert ended.status_code == 409 and "this one is released" in ended.json()["error"]["message"]


async def test_another_users_session_cannot_be_stopped_or_started(app: App, member):
    admins = await launch(app.client)
    assert (await member.post(f"/api/v1/sessions/{admins['id']}/stop")).status_code == 404
    assert (await row_of(app, admins["id"])).state == "ready"
    await app.client.post(f"/api/v1/sessions/{admins['id']}/stop")
    assert (await member.post(f"/api/v1/sessions/{admins['id']}/start")).status_code == 404
    assert (await row_of(app, admins["id"])).state == "stopped"
    # Admins act on anyone's, as they may end them.
    mine = await launch(member)
    assert (await app.client.post(f"/api/v1/sessions/{mine['id']}/stop")).status_code == 200


async def test_docker_refusing_the_stop_leaves_it_ready(app: App):
    launched = await launch(app.client)
    app.driver.reachable = False
    refused = await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    assert refused.status_code == 503
    assert (await row_of(app, launched["id"])).state == "ready"


async def test_a_start_that_never_becomes_usable_leaves_it_stopped(app: App):
    launched = await launch(app.client)
    (container_id,) = app.driver.containers
    await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    app.driver.fail_usable = True
    refused = await app.client.post(f"/api/v1/sessions/{launched['id']}/start")
    assert refused.status_code == 503
    assert (await row_of(app, launched["id"])).state == "stopped"
    assert app.driver.containers[container_id].state == "exited"  # stopped again
    app.driver.fail_usable = False
    again = await app.client.post(f"/api/v1/sessions/{launched['id']}/start")
    assert again.status_code == 200 and again.json()["state"] == "ready"


async def test_stopped_sessions_count_against_the_session_quota_not_compute(app: App):
    assert "stopped" in LIVE_STATES
    sessions = [await launch(app.client) for _ in range(3)]
    for session in sessions:
        await app.client.post(f"/api/v1/sessions/{session['id']}/stop")
    over = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert over.status_code == 429 and "limit is 3" in over.json()["error"]["message"]
    live = (await app.client.get("/api/v1/sessions?state=live")).json()
    assert {s["state"] for s in live} == {"stopped"} and len(live) == 3


async def test_a_stopped_session_is_extended_and_reclaimed_at_its_deadline(app: App):
    launched = await launch(app.client, duration_minutes=30)
    await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    extended = await app.client.post(
        f"/api/v1/sessions/{launched['id']}/extend", json={"minutes": 10}
    )
    assert extended.status_code == 200 and extended.json()["state"] == "stopped"

    async with write_session(app.context.sessionmaker) as db:
        row = await db.get(WorkspaceSession, launched["id"])
        assert row is not None
        row.expires_at = deadline = utcnow() + timedelta(milliseconds=200)
    app.context.reconciler.queue.schedule(("session", launched["id"]), deadline)
    for _ in range(100):
        if (await row_of(app, launched["id"])).state == "released":
            break
        await asyncio.sleep(0.05)
    assert (await row_of(app, launched["id"])).state == "released"
    assert not app.driver.containers


async def test_the_reconciler_keeps_a_stopped_container_and_its_deadline(app: App):
    launched = await launch(app.client)
    await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    app.context.reconciler.queue.cancel(("session", launched["id"]))
    await app.context.reconciler.reconcile_once()
    assert (await row_of(app, launched["id"])).state == "stopped"  # not a failure
    assert len(app.driver.containers) == 1  # not a leak
    assert app.context.reconciler.queue.deadline(("session", launched["id"])) is not None

    app.driver.containers.clear()
    await app.context.reconciler.reconcile_once()
    row = await row_of(app, launched["id"])
    assert row.state == "failed" and row.error == "the stopped container vanished"


async def test_the_page_forms_stop_and_start_and_show_the_state(app: App):
    launched = await launch(app.client)
    hx = {"HX-Request": "true", "HX-Current-URL": f"http://testserver/sessions/{launched['id']}"}
    page = await app.client.get(f"/sessions/{launched['id']}")
    assert 'id="stop-session"' in page.text
    listing = await app.client.get("/ui/sessions")
    assert f'hx-post="/ui/sessions/{launched["id"]}/stop"' in listing.text

    stopped = await app.client.post(f"/ui/sessions/{launched['id']}/stop", headers=hx)
    assert stopped.status_code == 204, stopped.text
    assert stopped.headers["HX-Redirect"] == f"http://testserver/sessions/{launched['id']}"
    page = await app.client.get(f"/sessions/{launched['id']}")
    assert 'id="session-state">stopped<' in page.text and 'id="start-session"' in page.text
    listing = await app.client.get("/ui/sessions")
    assert ">stopped</span>" in listing.text
    assert f'hx-post="/ui/sessions/{launched["id"]}/start"' in listing.text

    overview = await app.client.get("/admin/sessions", params={"state": "stopped"})
    assert f'hx-post="/ui/sessions/{launched["id"]}/start"' in overview.text

    refused = await app.client.post(f"/ui/sessions/{launched['id']}/stop", headers=hx)
    assert refused.status_code == 409
    assert "only a ready session can be stopped" in refused.text

    started = await app.client.post(f"/ui/sessions/{launched['id']}/start", headers=hx)
    assert started.status_code == 204
    assert (await row_of(app, launched["id"])).state == "ready"


async def test_a_pass_whose_listing_predates_a_start_does_not_fail_the_session(app: App):
    """The reconciler lists containers before it reads rows: a start that finishes in
    between leaves a ready row and a listing that says "exited". It looks again."""
    launched = await launch(app.client)
    await app.client.post(f"/api/v1/sessions/{launched['id']}/stop")
    driver = app.driver
    real_list = driver.list_workspaces
    calls = 0

    async def list_then_start(label: str):
        nonlocal calls
        calls += 1
        listed = await real_list(label)
        if calls == 1:  # the start completes right after this listing
            await app.client.post(f"/api/v1/sessions/{launched['id']}/start")
        return listed

    driver.list_workspaces = list_then_start  # type: ignore[method-assign]
    await app.context.reconciler.reconcile_once()
    assert calls == 2  # listed again before judging the ready row
    assert (await row_of(app, launched["id"])).state == "ready"
