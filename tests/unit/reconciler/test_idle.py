"""The idle pass: a session past its template's idle timeout ends with reason
``idle``; activity, "keep it" and a busy CPU keep it; the JSON says since when it
has been idle and, once ended, why."""

from datetime import timedelta

from moorage.db.base import utcnow
from moorage.reconciler.idle import IdleSessions
from moorage.services.kinds.ssh import SshKind


async def _launch(app, idle_timeout_seconds: int = 30) -> dict:
    changed = await app.client.patch(
        "/api/v1/templates/debian-shell",
        json={"idle_timeout_seconds": idle_timeout_seconds, "idle_cpu_percent": 50},
    )
    assert changed.status_code == 200, changed.text
    launched = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    return launched.json()


def _idle_pass(app, later_seconds: float) -> IdleSessions:
    context = app.context
    return IdleSessions(
        context.sessionmaker,
        context.drivers,
        context.sessions,
        clock=lambda: utcnow() + timedelta(seconds=later_seconds),
    )


async def test_an_idle_session_ends_at_its_idle_timeout_with_reason_idle(app):
    session = await _launch(app)
    assert session["idle_timeout_seconds"] == 30
    since = session["idle_since"]
    assert since is not None and session["idle_expires_at"] is not None
    assert await _idle_pass(app, 20).pass_once() == 0  # not yet
    assert await _idle_pass(app, 31).pass_once() == 1
    ended = (await app.client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert ended["state"] == "released" and ended["end_reason"] == "idle"
    assert ended["idle_since"] is None
    page = await app.client.get(f"/ui/sessions/{session['id']}/ended")
    assert "idle for too long" in page.text


async def test_a_busy_cpu_counts_as_activity(app):
    session = await _launch(app)
    (container_id,) = app.driver.containers
    app.driver.cpu[container_id] = 95.0  # a long computation
    assert await _idle_pass(app, 31).pass_once() == 0
    now = (await app.client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert now["state"] == "ready" and now["idle_since"] > session["idle_since"]
    app.driver.cpu[container_id] = 2.0  # it finished; still within the new timeout
    assert await _idle_pass(app, 20).pass_once() == 0


async def test_keep_it_and_gateway_input_start_the_idle_clock_over(app):
    session = await _launch(app)
    kept = await app.client.post(f"/api/v1/sessions/{session['id']}/keep")
    assert kept.status_code == 204
    after = (await app.client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert after["idle_since"] > session["idle_since"]
    app.context.sessions.activity.touch(session["id"])  # what the gateway does on a key
    pending = (await app.client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert pending["idle_since"] >= after["idle_since"]


async def test_no_idle_timeout_means_never_ended_for_idleness(app):
    session = await _launch(app, idle_timeout_seconds=0)
    assert session["idle_timeout_seconds"] is None and session["idle_expires_at"] is None
    assert await _idle_pass(app, 10**6).pass_once() == 0


async def test_keep_needs_the_owner_and_a_ready_session(app, member):
    session = await _launch(app)
    assert (await member.post(f"/api/v1/sessions/{session['id']}/keep")).status_code == 404
    await app.client.delete(f"/api/v1/sessions/{session['id']}")
    assert (await app.client.post(f"/api/v1/sessions/{session['id']}/keep")).status_code == 409


async def test_an_admin_ending_a_members_session_is_reason_admin(app, member):
    launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    ended = await app.client.delete(f"/api/v1/sessions/{launched.json()['id']}")
    assert ended.json()["end_reason"] == "admin"


async def test_idle_timeout_validation(app):
    bad = await app.client.patch("/api/v1/templates/debian-shell", json={"idle_timeout_seconds": 5})
    assert bad.status_code == 422 and "idle_timeout_seconds" in bad.text
    bad = await app.client.patch(
        "/api/v1/templates/debian-shell", json={"idle_ignore_paths": ["(unclosed"]}
    )
    assert bad.status_code == 422 and "regular expression" in bad.text


async def test_input_on_an_ssh_workspaces_terminal_counts(app, monkeypatch):
    async def ready(self, started, timeout_seconds):
        return None

    monkeypatch.setattr(SshKind, "wait_ready", ready)
    created = await app.client.post(
        "/api/v1/templates",
        json={
            "name": "ssh-idle",
            "display_name": "SSH idle",
            "image": "moorage/terminal:latest",
            "kind": "ssh",
            "idle_timeout_seconds": 30,
        },
    )
    assert created.status_code == 201, created.text
    session = (await app.client.post("/api/v1/sessions", json={"template": "ssh-idle"})).json()
    (container_id,) = app.driver.containers
    # A native SSH client typed 25 s after the start (seen in /dev/pts).
    typed = utcnow() + timedelta(seconds=25)
    app.driver.tty_input[container_id] = typed
    assert await _idle_pass(app, 31).pass_once() == 0
    now = (await app.client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert now["state"] == "ready" and now["idle_since"] > session["idle_since"]
    assert await _idle_pass(app, 56).pass_once() == 1
