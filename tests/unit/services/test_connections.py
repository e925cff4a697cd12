"""The registry of live gateway connections: listing, ending, the share watchdog,
a session's end, and the audit of each connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from moorage.models.audit import AuditEvent
from moorage.models.org import Org
from moorage.services.connections import ConnectionRegistry, LiveConnection
from tests.unit.conftest import App


def _connection(session_id: str, org_id: str, who: str, **extra) -> LiveConnection:
    return LiveConnection(session_id=session_id, org_id=org_id, kind="terminal", who=who, **extra)


async def _org(app: App) -> str:
    async with app.context.sessionmaker() as db:
        org = await db.scalar(select(Org.id))
    assert org is not None
    return org


async def test_connections_are_listed_ended_and_audited(app: App):
    registry = ConnectionRegistry(app.context.sessionmaker)
    org = await _org(app)
    async with (
        registry.track(_connection("s1", org, "alice", role="owner", actor="alice")) as mine,
        registry.track(
            _connection("s1", org, "Olga", role="observer", link_id="l1", grant_id="g1")
        ) as theirs,
        registry.track(_connection("s2", org, "bob", role="owner")),
    ):
        assert [c.who for c in registry.of_session("s1")] == ["alice", "Olga"]
        ended = registry.end_where(lambda c: c.link_id == "l1", 4410, "revoked")
        assert ended == [theirs] and not theirs.open and theirs.close_code == 4410
        await asyncio.wait_for(theirs.wait_ended(), 1)
        assert [c.who for c in registry.of_session("s1")] == ["alice"]
        registry.deadline_changed("s1", datetime.now(UTC))  # moved: nothing ends
        assert mine.open
        registry.deadline_changed("s1", None)  # ended: everyone goes
        assert not mine.open and mine.close_code == 4409
        assert [c.who for c in registry.of_session("s2")] == ["bob"]
    assert registry.of_session("s2") == []
    async with app.context.sessionmaker() as db:
        events = list(
            await db.scalars(select(AuditEvent).where(AuditEvent.object_id.in_(["s1", "s2"])))
        )
    assert sorted((e.username, e.action) for e in events) == [
        ("alice", "session.connect"),
        ("alice", "session.disconnect"),
        ("bob", "session.connect"),
        ("bob", "session.disconnect"),
        ("guest Olga", "session.connect"),
        ("guest Olga", "session.disconnect"),
    ]
    (gone,) = [e for e in events if e.username == "guest Olga" and e.action.endswith("disconnect")]
    assert "through share link l1" in gone.detail and "revoked" in gone.detail


async def test_the_watchdog_ends_a_share_connection_at_its_expiry_or_when_it_stops_holding(
    app: App,
):
    registry = ConnectionRegistry(app.context.sessionmaker, recheck_seconds=0.05)
    org = await _org(app)
    expires = datetime.now(UTC) + timedelta(seconds=0.3)
    holds = True

    async def recheck() -> datetime | None:
        return expires if holds else None

    async with registry.track(_connection("s", org, "x", role="peer", grant_id="g"), recheck) as c:
        await asyncio.wait_for(c.wait_ended(), 2)  # the expiry came
        assert c.close_code == 4410
    expires = datetime.now(UTC) + timedelta(hours=1)
    async with registry.track(_connection("s", org, "y", role="peer", grant_id="h"), recheck) as c:
        await asyncio.sleep(0.2)
        assert c.open
        holds = False  # revoked by another server process
        await asyncio.wait_for(c.wait_ended(), 2)
        assert c.close_code == 4410
