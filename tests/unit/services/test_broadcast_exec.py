"""A command broadcast to terminal sessions, on the fake driver: one result per
session in order, failures kept to their session, bounded concurrency, one audit
event."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from moorage.drivers.base import CommandResult
from moorage.errors import Forbidden, InvalidInput, RuntimeUnavailable
from moorage.models.audit import AuditEvent
from moorage.models.session import WorkspaceSession
from moorage.models.user import User
from moorage.services import broadcast_exec
from moorage.services.broadcast_exec import MAX_OUTPUT_BYTES, SYSTEM_ACTOR, run_in_sessions


async def _launch(app, count: int) -> list[WorkspaceSession]:
    response = await app.client.patch(
        "/api/v1/templates/debian-shell", json={"max_sessions_per_user": 20}
    )
    assert response.status_code == 200, response.text
    ids = []
    for _ in range(count):
        response = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    async with app.context.sessionmaker() as db:
        rows = {s.id: s for s in await db.scalars(select(WorkspaceSession))}
    return [rows[i] for i in ids]


async def _user(app, username: str = "admin") -> User:
    async with app.context.sessionmaker() as db:
        user = await db.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


async def _events(app) -> list[AuditEvent]:
    async with app.context.sessionmaker() as db:
        query = select(AuditEvent).where(AuditEvent.action == "session.broadcast_exec")
        return list(await db.scalars(query))


async def test_each_session_gets_its_own_result_in_order_and_one_failure_stops_nothing(app):
    sessions = await _launch(app, 4)
    ok, failing, broken, big = sessions
    results = app.driver.command_results
    results[ok.container_id] = CommandResult(0, b"hello from one\n")
    results[failing.container_id] = CommandResult(3, b"ls: cannot access\n")
    results[broken.container_id] = RuntimeUnavailable("Docker at fake:// is unreachable")
    results[big.container_id] = CommandResult(0, b"x" * 10_000 + b"\xff")
    admin = await _user(app)

    answered = await run_in_sessions(
        app.context, sessions, "echo hello", by=admin, source="1.2.3.4"
    )

    assert [r.session_id for r in answered] == [s.id for s in sessions]
    assert (answered[0].exit_code, answered[0].output, answered[0].error) == (
        0,
        "hello from one\n",
        None,
    )
    assert (answered[1].exit_code, answered[1].error) == (3, None)
    assert answered[2].exit_code is None and "unreachable" in (answered[2].error or "")
    assert len(answered[3].output) == MAX_OUTPUT_BYTES and answered[3].truncated
    (event,) = await _events(app)
    assert (event.username, event.object_id, event.source) == ("admin", "*", "1.2.3.4")
    assert event.detail.startswith("4 sessions: 2 exit 0, 1 exit non-zero, 1 not run or stopped")
    assert "command: echo hello" in event.detail and ok.id in event.detail


async def test_the_command_runs_through_sh_as_the_workspaces_user_with_its_timeout(app):
    (session,) = await _launch(app, 1)
    await run_in_sessions(app.context, [session], "uname -a; exit 2", timeout_seconds=7)
    ((container_id, command, user),) = app.driver.commands
    assert container_id == session.container_id
    assert user == "user" == session.template.shell_user  # never root by default
    assert command[:2] == ["sh", "-c"] and command[-2:] == ["uname -a; exit 2", "7"]
    (event,) = await _events(app)
    assert event.username == SYSTEM_ACTOR


async def test_a_command_past_its_timeout_is_reported_and_the_others_finish(app, monkeypatch):
    monkeypatch.setattr(broadcast_exec, "GRACE_SECONDS", 0.0)
    slow, quick = await _launch(app, 2)
    real = app.driver.run_command

    async def run_command(container_id, command, **kwargs):
        if container_id == slow.container_id:
            await asyncio.sleep(5)
        return await real(container_id, command, **kwargs)

    monkeypatch.setattr(app.driver, "run_command", run_command)
    answered = await run_in_sessions(app.context, [slow, quick], "sleep 60", timeout_seconds=0.2)
    assert answered[0].exit_code is None and "0.2 s" in (answered[0].error or "")
    assert (answered[1].exit_code, answered[1].error) == (0, None)


async def test_at_most_concurrency_sessions_run_at_once(app):
    sessions = await _launch(app, 6)
    app.driver.command_delay_seconds = 0.05
    running, most = 0, 0
    real = app.driver.run_command

    async def run_command(container_id, command, **kwargs):
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return await real(container_id, command, **kwargs)
        finally:
            running -= 1

    app.driver.run_command = run_command  # type: ignore[method-assign]
    answered = await run_in_sessions(app.context, sessions, "true", concurrency=2)
    assert [r.exit_code for r in answered] == [0] * 6
    assert most == 2


async def test_sessions_that_are_not_ready_terminals_of_the_org_are_not_run(app):
    ended, other_org, live = await _launch(app, 3)
    response = await app.client.delete(f"/api/v1/sessions/{ended.id}")
    assert response.status_code == 200
    async with app.context.sessionmaker() as db:
        ended = await db.get(WorkspaceSession, ended.id)
    other_org.org_id = "another-org"
    answered = await run_in_sessions(
        app.context, [ended, other_org, live], "id", by=await _user(app)
    )
    assert answered[0].error == "the session is released"
    assert answered[1].error == "no such session"
    assert (answered[2].exit_code, answered[2].error) == (0, None)
    assert [c[0] for c in app.driver.commands] == [live.container_id]


async def test_bad_arguments_and_members_are_refused_before_anything_runs(app, member):
    (session,) = await _launch(app, 1)
    for kwargs, field in [
        ({"command": "  "}, "command"),
        ({"command": "x" * 10_001}, "command"),
        ({"command": "id", "timeout_seconds": 0}, "timeout_seconds"),
        ({"command": "id", "concurrency": 0}, "concurrency"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await run_in_sessions(app.context, [session], **kwargs)
        assert caught.value.details["field"] == field
    with pytest.raises(Forbidden):
        await run_in_sessions(app.context, [session], "id", by=await _user(app, "alice"))
    assert app.driver.commands == [] and await _events(app) == []
    assert await run_in_sessions(app.context, [], "id") == []
