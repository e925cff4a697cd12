"""The lease lifecycle writes the audit log itself: launching, extending and ending a
session, and reserving, extending and releasing machines, write exactly one event
each, whether asked through the API or through the page forms."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moorage.models.audit import AuditEvent

POOL = "".join(f"m{i} 127.0.0.{i} 22 root password-{i}\n" for i in range(1, 5))
CLIENT = "127.0.0.1"  # httpx's ASGI transport's client address


async def events(app, noun: str) -> list[tuple[str, str, str, str | None, str | None]]:
    """``(action, username, object_id, source, detail)`` of the ``noun.*`` events, oldest first."""
    async with app.context.sessionmaker() as db:
        rows = await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith(f"{noun}."))
            .order_by(AuditEvent.at)
        )
        return [(r.action, r.username, r.object_id, r.source, r.detail) for r in rows]


async def test_a_session_through_the_api_is_audited_once_per_action(app, member):
    launched = await member.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 30}
    )
    assert launched.status_code == 201, launched.text
    session_id = launched.json()["id"]
    extended = await member.post(f"/api/v1/sessions/{session_id}/extend", json={"minutes": 10})
    ended = await member.delete(f"/api/v1/sessions/{session_id}")
    assert (extended.status_code, ended.status_code) == (200, 200)
    assert await events(app, "session") == [
        ("session.launch", "alice", session_id, CLIENT, "debian-shell"),
        ("session.extend", "alice", session_id, CLIENT, "+10 min"),
        ("session.end", "alice", session_id, CLIENT, None),
    ]
    async with app.context.sessionmaker() as db:
        launch = await db.scalar(select(AuditEvent).where(AuditEvent.action == "session.launch"))
        assert launch is not None and launch.environment == "local"


async def test_a_session_through_the_page_forms_is_audited_once_per_action(app, member):
    launched = await member.post(
        "/ui/sessions", data={"template": "debian-shell", "duration_minutes": "30"}
    )
    assert launched.status_code == 303, launched.text
    session_id = launched.headers["location"].rsplit("/", 1)[-1]
    extended = await member.post(f"/ui/sessions/{session_id}/extend", data={"minutes": "10"})
    ended = await member.post(f"/ui/sessions/{session_id}/end")
    assert (extended.status_code, ended.status_code) == (303, 303)
    assert await events(app, "session") == [
        ("session.launch", "alice", session_id, CLIENT, "debian-shell"),
        ("session.extend", "alice", session_id, CLIENT, "+10 min"),
        ("session.end", "alice", session_id, CLIENT, None),
    ]


async def test_a_refused_extension_writes_no_event(app, member):
    launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    session_id = launched.json()["id"]
    refused = await member.post(f"/api/v1/sessions/{session_id}/extend", json={"minutes": 100000})
    assert refused.status_code == 422
    assert [e[0] for e in await events(app, "session")] == ["session.launch"]


@pytest.fixture
async def pool(app):
    response = await app.client.post("/api/v1/machines/import", content=POOL)
    assert response.status_code == 201
    await app.context.prober.run()
    return app


async def test_a_reservation_through_the_api_is_audited_once_per_action(pool, member):
    reserved = await member.post("/api/v1/reservations", json={"count": 2})
    assert reserved.status_code == 201, reserved.text
    reservation_id = reserved.json()["id"]
    extended = await member.post(
        f"/api/v1/reservations/{reservation_id}/extend", json={"minutes": 10}
    )
    released = await member.delete(f"/api/v1/reservations/{reservation_id}")
    assert (extended.status_code, released.status_code) == (200, 200)
    await member.post("/api/v1/reservations", json={"count": 1})
    released_all = await pool.client.post("/api/v1/reservations/release-all")
    assert released_all.json() == {"released": 1}
    assert (await events(pool, "reservation"))[:3] == [
        ("reservation.reserve", "alice", reservation_id, CLIENT, "2 × default"),
        ("reservation.extend", "alice", reservation_id, CLIENT, "+10 min"),
        ("reservation.release", "alice", reservation_id, CLIENT, None),
    ]
    assert [e[0] for e in await events(pool, "reservation")][3:] == [
        "reservation.reserve",
        "reservation.release_all",
    ]
    assert (await events(pool, "reservation"))[-1] == (
        "reservation.release_all",
        "admin",
        "*",
        CLIENT,
        "1",
    )


async def test_a_reservation_through_the_page_forms_is_audited_once_per_action(pool, member):
    reserved = await member.post(
        "/ui/reservations", data={"pool": "default", "count": "2", "duration_minutes": "60"}
    )
    assert reserved.status_code == 303, reserved.text
    reservation_id = (await member.get("/api/v1/reservations")).json()[0]["id"]
    extended = await member.post(
        f"/ui/reservations/{reservation_id}/extend", data={"minutes": "10"}
    )
    released = await member.post(f"/ui/reservations/{reservation_id}/release")
    assert (extended.status_code, released.status_code) == (303, 303)
    assert await events(pool, "reservation") == [
        ("reservation.reserve", "alice", reservation_id, CLIENT, "2 × default"),
        ("reservation.extend", "alice", reservation_id, CLIENT, "+10 min"),
        ("reservation.release", "alice", reservation_id, CLIENT, None),
    ]
