"""Workshops on the fake driver and a real database: creating (422 naming the field),
joining with the code (same session when coming back, countdown and end, capacity,
anonymous participants with a temporary user, throttled guessing), the instructor's
actions (reset, extend, broadcast, observe, end), who may reach them, and the
lifecycle the reconciler runs (warm pool raised before the start, everything
released and temporary users removed at the end)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User
from moorage.models.warm import WarmState, WarmWorkspace
from moorage.models.workshop import Workshop, WorkshopSeat
from moorage.services.workshops.codes import ALPHABET, normalize_code
from moorage.services.workshops.rules import warm_demand_of
from tests.unit.conftest import BASE_URL, SAME_ORIGIN, App
from tests.unit.services.test_warm_pools import keeper


async def user_client(app: App, name: str, role: str) -> httpx.AsyncClient:
    response = await app.client.post(
        "/api/v1/users", json={"username": name, "password": f"{name}-password", "role": role}
    )
    assert response.status_code == 201, response.text
    return await app.login(name, f"{name}-password")


def anonymous_client(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    )


@pytest.fixture
async def instructor(app: App):
    client = await user_client(app, "ingrid", "instructor")
    yield client
    await client.aclose()


async def create(client: httpx.AsyncClient, **fields) -> dict:
    body = {"title": "Intro to shells", "template": "debian-shell", "capacity": 5, **fields}
    response = await client.post("/api/v1/workshops", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def join(client: httpx.AsyncClient, code: str, **fields) -> httpx.Response:
    return await client.post("/api/v1/workshops/join", json={"code": code, **fields})


async def session_state(app: App, session_id: str) -> str:
    async with app.context.sessionmaker() as db:
        session = await db.get(WorkspaceSession, session_id)
        assert session is not None
        return session.state


# -- creating -----------------------------------------------------------------------


async def test_creating_answers_an_id_and_a_join_code_and_starts_now_without_a_start(
    app: App, instructor
):
    made = await create(instructor)
    assert made["id"] and made["state"] == "open"
    code = made["join_code"]
    assert len(code) == 8 and set(code) <= set(ALPHABET)
    assert not set(code) & set("01OIL")
    assert made["join_url"] == f"/join/{code}"
    assert made["owner"] == "ingrid" and made["template"] == "debian-shell"
    audit = (await app.client.get("/api/v1/audit", params={"action": "workshop.create"})).json()
    assert any(e["object_id"] == made["id"] for e in audit)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"title": "   "}, "title"),
        ({"starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T09:00:00Z"}, "ends_at"),
        ({"ends_at": "2001-01-01T09:00:00Z"}, "ends_at"),
        ({"duration_minutes": 100000}, "duration_minutes"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),
    ],
)
async def test_bad_fields_are_refused_naming_the_field(app: App, instructor, fields, field):
    body = {"title": "T", "template": "debian-shell", "capacity": 3, **fields}
    response = await instructor.post("/api/v1/workshops", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_an_unknown_template_is_404_and_a_member_may_not_create(app: App, instructor, member):
    response = await instructor.post(
        "/api/v1/workshops", json={"title": "T", "template": "nope", "capacity": 3}
    )
    assert response.status_code == 404
    response = await member.post(
        "/api/v1/workshops", json={"title": "T", "template": "debian-shell", "capacity": 3}
    )
    assert response.status_code == 403


# -- joining ------------------------------------------------------------------------


async def test_a_participant_coming_back_gets_the_same_session(app: App, instructor, member):
    made = await create(instructor)
    first = await join(member, made["join_code"].lower())
    assert first.status_code == 200, first.text
    again = await join(member, made["join_code"])
    assert again.json()["session_id"] == first.json()["session_id"]
    assert await session_state(app, first.json()["session_id"]) == "ready"
    assert len(app.driver.containers) == 1
    participants = (await instructor.get(f"/api/v1/workshops/{made['id']}/participants")).json()
    assert [p["display_name"] for p in participants] == ["alice"]
    assert participants[0]["state"] == "ready" and participants[0]["seconds_left"] > 0
    assert participants[0]["thumbnail_url"].endswith("/thumbnail")


async def test_the_lease_is_cut_at_the_workshop_end(app: App, instructor, member):
    ends = utcnow() + timedelta(minutes=10)
    made = await create(instructor, ends_at=ends.isoformat(), duration_minutes=60)
    joined = (await join(member, made["join_code"])).json()
    async with app.context.sessionmaker() as db:
        session = await db.get(WorkspaceSession, joined["session_id"])
        assert session is not None
        assert abs((session.expires_at - ends).total_seconds()) < 5


async def test_before_the_start_joining_says_when_and_after_the_end_that_it_ended(
    app: App, instructor, member
):
    starts = utcnow() + timedelta(hours=1)
    later = await create(instructor, starts_at=starts.isoformat())
    response = await join(member, later["join_code"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "workshop_not_started"
    assert response.json()["error"]["starts_at"].startswith(starts.isoformat()[:16])

    now = await create(instructor)
    assert (await instructor.post(f"/api/v1/workshops/{now['id']}/end")).status_code == 200
    response = await join(member, now["join_code"])
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "workshop_ended"


async def test_a_full_workshop_refuses_the_next_participant(app: App, instructor, member):
    made = await create(instructor, capacity=1)
    assert (await join(member, made["join_code"])).status_code == 200
    other = await user_client(app, "bob", "member")
    response = await join(other, made["join_code"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "workshop_full"
    await other.aclose()


async def test_a_workshop_that_is_not_anonymous_needs_a_sign_in(app: App, instructor):
    made = await create(instructor)
    async with anonymous_client(app) as guest:
        response = await join(guest, made["join_code"], display_name="Zoe")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "workshop_sign_in"


async def test_an_anonymous_participant_gets_a_temporary_user_signed_in_by_cookie(
    app: App, instructor
):
    made = await create(instructor, anonymous=True)
    async with anonymous_client(app) as guest:
        missing = await join(guest, made["join_code"])
        assert missing.status_code == 422
        assert missing.json()["error"]["field"] == "display_name"
        first = await join(guest, made["join_code"], display_name="Zoe")
        assert first.status_code == 200, first.text
        assert first.json()["new_participant"] is True
        assert "moorage_login=" in first.headers.get("set-cookie", "")
        me = (await guest.get("/api/v1/auth/me")).json()
        assert me["display_name"] == "Zoe" and me["role"] == "viewer"
        # Anyone holding the code gets this far: nothing but the seat is theirs.
        other = await guest.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert other.status_code == 403, other.text
        again = await join(guest, made["join_code"])
        assert again.json()["session_id"] == first.json()["session_id"]
        assert again.json()["new_participant"] is False
        page = await guest.get(first.json()["session_url"])
        assert page.status_code == 200


async def test_wrong_codes_are_throttled_per_address_after_ten_a_minute(
    app: App, instructor, member
):
    made = await create(instructor)
    for _ in range(10):
        response = await join(member, "WRONGCOD")
        assert response.status_code == 404
    refused = await join(member, made["join_code"])
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


def test_codes_are_read_back_whatever_the_case_spaces_and_dashes():
    assert normalize_code(" ab2c-d3ef ") == "AB2CD3EF"


# -- the instructor's actions --------------------------------------------------------


async def test_reset_gives_a_fresh_session_and_ends_the_old_one(app: App, instructor, member):
    made = await create(instructor)
    old = (await join(member, made["join_code"])).json()
    response = await instructor.post(
        f"/api/v1/workshops/{made['id']}/participants/{old['seat_id']}/reset"
    )
    assert response.status_code == 200, response.text
    fresh = response.json()
    assert fresh["session_id"] != old["session_id"] and fresh["state"] == "ready"
    assert await session_state(app, old["session_id"]) == "released"
    assert (await join(member, made["join_code"])).json()["session_id"] == fresh["session_id"]
    assert len(app.driver.containers) == 1


async def test_extend_moves_the_end_and_every_session_within_the_template_maximum(
    app: App, instructor, member
):
    made = await create(instructor, duration_minutes=30)
    joined = (await join(member, made["join_code"])).json()
    response = await instructor.post(f"/api/v1/workshops/{made['id']}/extend", json={"minutes": 15})
    assert response.status_code == 200, response.text
    assert response.json()["ends_at"] > made["ends_at"]
    async with app.context.sessionmaker() as db:
        session = await db.get(WorkspaceSession, joined["session_id"])
        assert session is not None
        lasting = session.expires_at - session.starts_at
        assert abs(lasting - timedelta(minutes=45)) < timedelta(seconds=5)
    huge = await instructor.post(f"/api/v1/workshops/{made['id']}/extend", json={"minutes": 0})
    assert huge.status_code == 422 and huge.json()["error"]["field"] == "minutes"


async def test_a_broadcast_message_reaches_the_participants_page(app: App, instructor, member):
    made = await create(instructor)
    joined = (await join(member, made["join_code"])).json()
    response = await instructor.post(
        f"/api/v1/workshops/{made['id']}/broadcast", json={"message": "Open exercise 2"}
    )
    assert response.status_code == 200, response.text
    banner = await member.get(f"/ui/sessions/{joined['session_id']}/workshop")
    assert banner.status_code == 200 and "Open exercise 2" in banner.text
    empty = await instructor.post(f"/api/v1/workshops/{made['id']}/broadcast", json={})
    assert empty.status_code == 422


async def test_a_broadcast_command_needs_a_terminal_workshop(app: App, instructor):
    async with write_session(app.context.sessionmaker) as db:
        await db.execute(update(Template).values(kind="vnc"))
    made = await create(instructor)
    response = await instructor.post(
        f"/api/v1/workshops/{made['id']}/broadcast", json={"command": "ls"}
    )
    assert response.status_code in (422, 503), response.text
    if response.status_code == 422:
        assert response.json()["error"]["field"] == "command"


async def test_observing_makes_a_named_observer_link_and_control_a_peer_link(
    app: App, instructor, member
):
    made = await create(instructor)
    joined = (await join(member, made["join_code"])).json()
    base = f"/api/v1/workshops/{made['id']}/participants/{joined['seat_id']}/observe"
    watch = await instructor.post(base, json={})
    assert watch.status_code == 201, watch.text
    assert watch.json()["role"] == "observer" and "/share/msh_" in watch.json()["url"]
    take = await instructor.post(base, json={"control": True})
    assert take.json()["role"] == "peer"
    links = (await instructor.get(f"/api/v1/sessions/{joined['session_id']}/shares")).json()
    assert {tuple(link["users"]) for link in links} == {("ingrid",)}
    # the link is for the instructor alone: the participant cannot open it
    token = watch.json()["url"].rsplit("/", 1)[1]
    opened = await member.post(f"/share/{token}", data={})
    assert opened.status_code == 404


async def test_ending_releases_every_session_and_removes_temporary_users(
    app: App, instructor, member
):
    made = await create(instructor, anonymous=True)
    await join(member, made["join_code"])
    async with anonymous_client(app) as guest:
        await join(guest, made["join_code"], display_name="Zoe")
        assert len(app.driver.containers) == 2
        ended = await instructor.post(f"/api/v1/workshops/{made['id']}/end")
        assert ended.status_code == 200 and ended.json()["state"] == "ended"
        assert app.driver.containers == {}
        assert (await guest.get("/api/v1/auth/me")).status_code == 401
    async with app.context.sessionmaker() as db:
        seats = list(await db.scalars(select(WorkshopSeat)))
        guests = [await db.get(User, s.user_id) for s in seats if s.anonymous]
        assert guests and all(u is not None and u.deleted_at is not None for u in guests)
    again = await instructor.post(f"/api/v1/workshops/{made['id']}/end")
    assert again.status_code == 200  # idempotent


# -- who may ----------------------------------------------------------------------------


async def test_only_its_instructor_and_admins_reach_a_workshop(app: App, instructor, member):
    made = await create(instructor)
    joined = (await join(member, made["join_code"])).json()
    other = await user_client(app, "otto", "instructor")
    paths = [
        ("GET", f"/api/v1/workshops/{made['id']}"),
        ("GET", f"/api/v1/workshops/{made['id']}/participants"),
        ("POST", f"/api/v1/workshops/{made['id']}/end"),
        ("POST", f"/api/v1/workshops/{made['id']}/participants/{joined['seat_id']}/reset"),
    ]
    for method, path in paths:
        assert (await other.request(method, path)).status_code == 404, path
        assert (await member.request(method, path)).status_code == 403, path
    assert (await other.get("/api/v1/workshops")).json() == []
    listed = (await app.client.get("/api/v1/workshops")).json()
    assert [w["id"] for w in listed] == [made["id"]]
    assert (await app.client.get(f"/api/v1/workshops/{made['id']}")).status_code == 200
    await other.aclose()


async def test_another_org_gets_404_and_cannot_join_a_workshop_that_needs_a_sign_in(
    app: App, instructor
):
    made = await create(instructor)
    created = await app.client.post("/api/v1/orgs", json={"name": "lab"})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]  # the other org's operator (its service user)
    async with anonymous_client(app) as stranger:
        stranger.headers["Authorization"] = f"Bearer {key}"
        for method, path in [
            ("GET", f"/api/v1/workshops/{made['id']}"),
            ("GET", f"/api/v1/workshops/{made['id']}/participants"),
            ("POST", f"/api/v1/workshops/{made['id']}/end"),
            ("POST", f"/api/v1/workshops/{made['id']}/extend"),
        ]:
            response = await stranger.request(method, path, json={"minutes": 5})
            assert response.status_code == 404, (path, response.text)
        assert (await stranger.get("/api/v1/workshops")).json() == []
        joined = await join(stranger, made["join_code"])
        assert joined.status_code == 403
        assert joined.json()["error"]["code"] == "workshop_other_org"


# -- the lifecycle in the reconciler ------------------------------------------------------


async def test_the_pool_is_raised_before_the_start_and_goes_back_after_the_end(
    app: App, instructor
):
    starts = utcnow() + timedelta(minutes=10)
    made = await create(instructor, starts_at=starts.isoformat(), capacity=4)  # 0.7 × 4 → 3
    workshops = app.context.workshops
    assert workshops is not None
    pools = keeper(app, demand=workshops.warm_demand)
    await pools.run()
    async with app.context.sessionmaker() as db:
        warm = list(await db.scalars(select(WarmWorkspace).where(WarmWorkspace.state == "warm")))
        template = await db.scalar(select(Template).where(Template.name == "debian-shell"))
        assert template is not None and template.warm is None  # its own setting untouched
    assert len(warm) == 3

    async with write_session(app.context.sessionmaker) as db:
        await db.execute(
            update(Workshop)
            .where(Workshop.id == made["id"])
            .values(ends_at=utcnow() - timedelta(seconds=1))
        )
    assert await workshops.finish_due() == 1
    assert await workshops.finish_due() == 0  # idempotent
    await pools.run()
    async with app.context.sessionmaker() as db:
        left = await db.scalars(
            select(WarmWorkspace).where(WarmWorkspace.state == WarmState.WARM.value)
        )
        assert list(left) == []
    assert app.driver.containers == {}


async def test_the_end_at_its_time_releases_the_seats(app: App, instructor, member):
    made = await create(instructor)
    joined = (await join(member, made["join_code"])).json()
    async with write_session(app.context.sessionmaker) as db:
        await db.execute(
            update(Workshop)
            .where(Workshop.id == made["id"])
            .values(ends_at=utcnow() - timedelta(seconds=1))
        )
    workshops = app.context.workshops
    assert workshops is not None
    await workshops.finish_due()
    assert await session_state(app, joined["session_id"]) == "released"
    async with app.context.sessionmaker() as db:
        session = await db.get(WorkspaceSession, joined["session_id"])
        assert session is not None and session.end_reason == "workshop_end"


def test_the_warm_demand_is_a_share_of_the_capacity_from_the_prewarm_time():
    now = utcnow()
    workshop = Workshop(
        starts_at=now + timedelta(minutes=20),
        ends_at=now + timedelta(hours=1),
        capacity=10,
        prewarm_minutes=15,
        prewarm_share=0.7,
        state="scheduled",
    )
    assert warm_demand_of(workshop, now) == 0
    assert warm_demand_of(workshop, now + timedelta(minutes=6)) == 7
    assert warm_demand_of(workshop, now + timedelta(hours=1)) == 0


def test_the_warm_demand_never_passes_the_seats_still_free():
    now = utcnow()
    workshop = Workshop(
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        capacity=10,
        prewarm_minutes=15,
        prewarm_share=0.7,
        state="scheduled",
    )
    assert warm_demand_of(workshop, now, seats_taken=0) == 7
    assert warm_demand_of(workshop, now, seats_taken=5) == 5
    assert warm_demand_of(workshop, now, seats_taken=10) == 0


async def test_extending_everyone_stops_at_the_template_maximum(app: App, instructor, member):
    made = await create(instructor, duration_minutes=230)  # debian-shell's maximum: 240
    joined = (await join(member, made["join_code"])).json()
    response = await instructor.post(f"/api/v1/workshops/{made['id']}/extend", json={"minutes": 30})
    assert response.status_code == 200, response.text
    async with app.context.sessionmaker() as db:
        session = await db.get(WorkspaceSession, joined["session_id"])
        template = await db.scalar(select(Template).where(Template.name == "debian-shell"))
        assert session is not None and template is not None
        lasting = session.expires_at - session.starts_at
        assert lasting == timedelta(minutes=template.max_duration_minutes)


async def test_a_broadcast_command_runs_in_every_ready_terminal_with_a_result_each(
    app: App, instructor, member, monkeypatch
):
    """The route hands the exec broadcast service (``moorage.services.broadcast_exec``,
    built beside this feature) the seats' ready sessions; here a stand-in records the
    call, so the routing, results and audit are checked whichever build runs."""
    import sys
    import types
    from dataclasses import dataclass

    @dataclass
    class Result:
        session_id: str
        exit_code: int | None
        output: str
        error: str | None

    calls = []

    async def run_in_sessions(ctx, sessions, command, *, by=None, source=None):
        calls.append((ctx, [s.id for s in sessions], command))
        return [Result(s.id, 0, f"ran {command}", None) for s in sessions]

    stand_in = types.ModuleType("moorage.services.broadcast_exec")
    stand_in.run_in_sessions = run_in_sessions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "moorage.services.broadcast_exec", stand_in)

    made = await create(instructor)
    joined = (await join(member, made["join_code"])).json()
    response = await instructor.post(
        f"/api/v1/workshops/{made['id']}/broadcast", json={"command": "ls /"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "session_id": joined["session_id"],
            "participant": "alice",
            "exit_code": 0,
            "output": "ran ls /",
            "error": None,
        }
    ]
    ((ctx, ids, command),) = calls
    assert ctx is app.context and ids == [joined["session_id"]] and command == "ls /"
    audit = (
        await app.client.get("/api/v1/audit", params={"action": "workshop.broadcast_command"})
    ).json()
    assert [e["object_id"] for e in audit] == [made["id"]]


async def test_the_real_broadcast_command_service_when_built(app: App, instructor, member):
    pytest.importorskip(
        "moorage.services.broadcast_exec",
        reason="the exec broadcast service is built on the `thumbs` branch; merged later",
    )
    made = await create(instructor)
    joined = (await join(member, made["join_code"])).json()
    response = await instructor.post(
        f"/api/v1/workshops/{made['id']}/broadcast", json={"command": "echo hi"}
    )
    assert response.status_code == 200, response.text
    assert [r["session_id"] for r in response.json()] == [joined["session_id"]]
