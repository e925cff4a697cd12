"""A command broadcast to real debian-shell workspaces (Docker exec), through an
in-process Moorage on the real engine: each session's own output and exit code,
the workspace's user, a failing or slow session stopping none of the others."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import Context
from moorage.models.audit import AuditEvent
from moorage.models.session import WorkspaceSession
from moorage.services.broadcast_exec import run_in_sessions
from tests.databases import fresh_database

PASSWORD = "broadcast-test-pw"


@pytest.fixture
async def moorage(docker, tmp_path) -> AsyncIterator[tuple[Context, list[WorkspaceSession]]]:
    """An in-process Moorage on the real Docker engine with three ready debian-shell
    sessions (ended, and their containers removed, afterwards)."""
    async with fresh_database(tmp_path) as url:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            admin_password=SecretStr(PASSWORD),
            reconcile_interval_seconds=3600,
        )
        app = create_app(settings, announce=lambda message: None)
        async with app.router.lifespan_context(app):
            context: Context = app.state.context
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers={"origin": "http://t"}, timeout=90
            ) as client:
                await client.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
                )
                ids = []
                try:
                    for _ in range(3):
                        launched = await client.post(
                            "/api/v1/sessions", json={"template": "debian-shell"}
                        )
                        assert launched.status_code == 201, launched.text
                        ids.append(launched.json()["id"])
                    async with context.sessionmaker() as db:
                        rows = {
                            s.id: s
                            for s in await db.scalars(
                                select(WorkspaceSession).where(WorkspaceSession.id.in_(ids))
                            )
                        }
                    yield context, [rows[i] for i in ids]
                finally:
                    for session_id in ids:
                        await client.delete(f"/api/v1/sessions/{session_id}")


async def test_each_session_answers_its_own_output_and_exit_code_as_its_user(moorage):
    context, sessions = moorage
    results = await run_in_sessions(
        context, sessions, 'echo "$(cat /etc/hostname) $(id -un)"; echo to-stderr >&2; exit 0'
    )
    assert [r.session_id for r in results] == [s.id for s in sessions]
    hostnames = set()
    for result in results:
        assert (result.exit_code, result.error) == (0, None), result
        # Docker copies standard output and error apart: their order is not kept.
        (first,) = [line for line in result.output.splitlines() if line != "to-stderr"]
        assert "to-stderr\n" in result.output
        hostname, user = first.split()
        assert user == "user"  # the workspace's user, not root
        hostnames.add(hostname)
    assert len(hostnames) == 3  # each from its own workspace
    async with context.sessionmaker() as db:
        (event,) = await db.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.broadcast_exec")
        )
    assert event.detail.startswith("3 sessions: 3 exit 0, 0 exit non-zero")


async def test_a_failing_and_a_slow_session_stop_none_of_the_others(moorage):
    context, (failing, slow, fine) = moorage
    # One command, decided per workspace by a file only two of them have.
    await run_in_sessions(context, [slow], "touch /tmp/slow")
    await run_in_sessions(context, [failing], "touch /tmp/fail")
    command = (
        "if [ -e /tmp/fail ]; then echo failing; exit 7; fi; "
        "if [ -e /tmp/slow ]; then sleep 30; fi; echo fine"
    )
    started = time.monotonic()
    results = await run_in_sessions(context, [failing, slow, fine], command, timeout_seconds=2)
    took = time.monotonic() - started
    by_id = {r.session_id: r for r in results}
    assert (by_id[failing.id].exit_code, by_id[failing.id].output) == (7, "failing\n")
    assert by_id[failing.id].error is None
    assert by_id[slow.id].exit_code == 124 and by_id[slow.id].error == "stopped after 2 s"
    assert (by_id[fine.id].exit_code, by_id[fine.id].output) == (0, "fine\n")
    assert took < 10, f"the broadcast took {took:.1f} s"
