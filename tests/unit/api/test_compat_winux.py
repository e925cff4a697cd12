"""The Winux API (seed 000) on the fake driver: the requests of its README (create
with ``duration_minutes``, list, show, delete, cleanup) get a session with the
fields it lists (``id``, ``container_id``, ``ip``, ``port``, ``created_at``,
``expires_at``), ``ip``/``port`` where an RDP client connects."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.models.session import WorkspaceSession
from tests.unit.conftest import BASE_URL, App

# Winux's README: curl -X POST .../api/winux/sessions -H "Content-Type: application/json"
#   -d '{"duration_minutes": 30}'
CREATE = '{"duration_minutes": 30}'
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def rdp(app: App, monkeypatch) -> App:
    """The ``rdp-desktop`` template on the fake driver, ready without an RDP server."""

    async def answers(host: str, port: int, timeout_seconds: float) -> None:
        return None

    monkeypatch.setattr("moorage.services.kinds.rdp.wait_for_rdp", answers)
    app.driver.images.add("moorage/rdp:latest")
    # The first start made it; the test sets the durations it checks.
    created = await app.client.patch(
        "/api/v1/templates/rdp-desktop",
        json={
            "display_name": "RDP desktop",
            "image": "moorage/rdp:latest",
            "kind": "rdp",
            "default_duration_minutes": 30,
            "max_duration_minutes": 120,
        },
    )
    assert created.status_code == 200, created.text
    return app


async def test_a_session_is_created_listed_shown_and_deleted_as_winux_does(rdp: App, member):
    assert (await member.get("/api/winux/health")).json()["status"] == "ok"
    created = await member.post("/api/winux/sessions", content=CREATE, headers=JSON)
    assert created.status_code == 201, created.text
    session = created.json()
    assert set(session) >= {"id", "container_id", "ip", "port", "created_at", "expires_at"}
    container = rdp.driver.containers[session["container_id"]]
    assert session["ip"] == rdp.context.settings.public_host
    assert session["port"] == container.ports[3389]  # the published RDP port
    assert session["duration_minutes"] == 30 and session["status"] == "ready"
    assert session["username"] and session["password"]
    lifetime = datetime.fromisoformat(session["expires_at"]) - datetime.fromisoformat(
        session["created_at"]
    )
    assert timedelta(minutes=29) < lifetime <= timedelta(minutes=31)

    listed = (await member.get("/api/winux/sessions")).json()
    assert listed["count"] == 1 and listed["sessions"][0]["id"] == session["id"]
    shown = await member.get(f"/api/winux/sessions/{session['id']}")
    assert shown.status_code == 200 and shown.json()["port"] == session["port"]

    deleted = await member.delete(f"/api/winux/sessions/{session['id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"] is True
    assert not rdp.driver.containers
    assert (await member.get("/api/winux/sessions")).json() == {"sessions": [], "count": 0}


async def test_errors_name_the_duration_and_hide_other_users_sessions(rdp: App, member):
    too_long = await member.post("/api/winux/sessions", json={"duration_minutes": 500})
    assert too_long.status_code == 422
    assert "120" in too_long.json()["error"]["message"]
    word = await member.post("/api/winux/sessions", json={"duration_minutes": "long"})
    assert word.status_code == 422 and word.json()["error"]["field"] == "duration_minutes"
    theirs = (await rdp.client.post("/api/winux/sessions", json={})).json()
    assert theirs["duration_minutes"] == 30  # the template's default
    assert (await member.get(f"/api/winux/sessions/{theirs['id']}")).status_code == 404
    assert (await member.delete(f"/api/winux/sessions/{theirs['id']}")).status_code == 404
    assert len(rdp.driver.containers) == 1
    anonymous = httpx.AsyncClient(transport=rdp.client._transport, base_url=BASE_URL)
    refused = await anonymous.get("/api/winux/sessions")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
    await anonymous.aclose()


async def test_an_unknown_template_is_404_naming_the_setting(app: App, member):
    app.context.settings.compat_winux_template = "no-such-desktop"
    missing = await member.post("/api/winux/sessions", json={"duration_minutes": 30})
    assert missing.status_code == 404 and "no-such-desktop" in missing.json()["error"]["message"]
    app.context.settings.compat_winux_template = "debian-shell"
    shell = await member.post("/api/winux/sessions", json={"duration_minutes": 30})
    assert shell.status_code == 201, shell.text
    assert shell.json()["port"] is None  # a terminal has no native client port


async def test_cleanup_ends_expired_sessions_now_and_says_which(rdp: App, member):
    live = (await member.post("/api/winux/sessions", json={"duration_minutes": 30})).json()
    admins = (await rdp.client.post("/api/winux/sessions", json={"duration_minutes": 30})).json()
    async with write_session(rdp.context.sessionmaker) as db:
        await db.execute(
            update(WorkspaceSession)
            .where(WorkspaceSession.id == live["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await member.post("/api/winux/cleanup")).status_code == 403
    cleaned = await rdp.client.post("/api/winux/cleanup")
    assert cleaned.status_code == 200, cleaned.text
    body = cleaned.json()
    assert body["removed"] == 1 and body["sessions"] == [{"id": live["id"], "owner": "alice"}]
    assert body["reconciler"] == "pass"
    assert live["container_id"] not in rdp.driver.containers
    assert admins["container_id"] in rdp.driver.containers
    again = (await rdp.client.post("/api/winux/cleanup")).json()
    assert again["removed"] == 0


async def test_cleanup_without_a_reconciler_here_still_ends_expired_sessions(rdp: App, member):
    live = (await member.post("/api/winux/sessions", json={"duration_minutes": 30})).json()
    async with write_session(rdp.context.sessionmaker) as db:
        await db.execute(
            update(WorkspaceSession).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    rdp.context.reconciler = None  # as under `moorage serve` with a separate worker
    body = (await rdp.client.post("/api/winux/cleanup")).json()
    assert body == {
        "removed": 1,
        "sessions": [{"id": live["id"], "owner": "alice"}],
        "reconciler": "expired_only",
    }
    assert not rdp.driver.containers
