"""``GET /api/v1/sessions/{id}/thumbnail`` on the fake driver: who may watch (the
owner, the org's instructors and admins; 404 to the rest), the placeholder before a
terminal is open, the held terminal's screen once it is, the headers and the cache."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from moorage.drivers.fake import FakeTerminal
from moorage.models.environment import Environment
from moorage.models.user import User
from moorage.services.watching import may_watch
from tests.unit.conftest import App

SVG_NS = "{http://www.w3.org/2000/svg}"


def _texts(svg: bytes) -> list[str]:
    return [e.text or "" for e in ElementTree.fromstring(svg).iter(f"{SVG_NS}text")]


async def _client(app: App, username: str, role: str):
    response = await app.client.post(
        "/api/v1/users", json={"username": username, "password": f"{username}-pw", "role": role}
    )
    assert response.status_code == 201, response.text
    return await app.login(username, f"{username}-pw")


async def _session_of(client) -> str:
    response = await client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _hold(app: App, session_id: str, output: bytes, size=(80, 24)) -> FakeTerminal:
    """Hold a shell for ``session_id`` (as the terminal websocket would) that printed
    ``output``."""
    holds = app.client._transport.app.state.terminal_holds  # type: ignore[attr-defined]
    terminal = FakeTerminal()

    async def open_shell(cols: int, rows: int) -> FakeTerminal:
        return terminal

    async def still_live():
        return datetime.now(UTC) + timedelta(hours=1)

    held = await holds.hold(
        session_id,
        open_shell=open_shell,
        cols=size[0],
        rows=size[1],
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        still_live=still_live,
    )
    await terminal.write(output)  # the fake TTY echoes it as output
    for _ in range(100):
        if held.buffer.end >= len(output):
            break
        await asyncio.sleep(0.01)
    return terminal


async def test_the_owner_the_workshops_instructor_and_admins_see_it_others_get_404(app: App):
    owner = await _client(app, "owner", "member")
    other = await _client(app, "other", "member")
    viewer = await _client(app, "watcher", "viewer")
    instructor = await _client(app, "teacher", "instructor")
    stranger = await _client(app, "teacher2", "instructor")
    workshop = await instructor.post(
        "/api/v1/workshops", json={"title": "Shell 101", "template": "debian-shell", "capacity": 5}
    )
    assert workshop.status_code == 201, workshop.text
    joined = await owner.post("/api/v1/workshops/join", json={"code": workshop.json()["join_code"]})
    assert joined.status_code == 200, joined.text
    session_id = joined.json()["session_id"]
    path = f"/api/v1/sessions/{session_id}/thumbnail"
    answers = {
        name: (await client.get(path)).status_code
        for name, client in [
            ("owner", owner),
            ("instructor", instructor),
            ("admin", app.client),
            ("other member", other),
            ("viewer", viewer),
            ("another instructor", stranger),
        ]
    }
    assert answers == {
        "owner": 200,
        "instructor": 200,
        "admin": 200,
        "other member": 404,
        "viewer": 404,
        "another instructor": 404,
    }
    # The owner's session outside the workshop: not the instructor's to watch.
    own = await _session_of(owner)
    assert (await instructor.get(f"/api/v1/sessions/{own}/thumbnail")).status_code == 404
    missing = await instructor.get("/api/v1/sessions/no-such-session/thumbnail")
    refused = await other.get(path)
    assert missing.status_code == refused.status_code == 404
    assert missing.json()["error"]["code"] == refused.json()["error"]["code"] == "session_not_found"
    anonymous = await app.login("owner", "owner-pw")
    await anonymous.post("/api/v1/auth/logout")
    assert (await anonymous.get(path)).status_code == 401
    for client in (owner, other, viewer, instructor, stranger, anonymous):
        await client.aclose()


@pytest.mark.parametrize(
    ("role", "org", "owns", "expected"),
    [
        ("member", "o1", True, True),
        ("viewer", "o1", True, True),
        ("member", "o1", False, False),
        ("operator", "o1", False, True),
        ("admin", "o1", False, True),
        ("instructor", "o2", False, False),
        ("admin", "o2", False, False),
        ("member", "o2", True, False),  # an id from another org never matches
    ],
)
async def test_may_watch_is_by_owner_or_role_within_the_org(role, org, owns, expected):
    """(An instructor's rule reads the database: see the route's test.)"""
    user = User(id="u1", org_id=org, role=role, username="u")
    session = SimpleNamespace(org_id="o1", user_id="u1" if owns else "u2")
    assert await may_watch(None, user, session) is expected  # type: ignore[arg-type]


async def test_before_a_terminal_is_open_the_thumbnail_says_so(app: App):
    session_id = await _session_of(app.client)
    response = await app.client.get(f"/api/v1/sessions/{session_id}/thumbnail")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert _texts(response.content) == ["terminal", "no terminal open"]
    assert app.driver.terminals == []  # looking opened no shell


async def test_a_held_terminal_shows_its_screen_with_safe_headers(app: App):
    session_id = await _session_of(app.client)
    await _hold(app, session_id, b"$ echo THUMB-MARK\r\nTHUMB-MARK <b>&\r\n$ ")
    response = await app.client.get(f"/api/v1/sessions/{session_id}/thumbnail")
    assert response.status_code == 200
    assert _texts(response.content) == ["$ echo THUMB-MARK", "THUMB-MARK <b>&", "$"]
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_thumbnail_is_reused_for_a_few_seconds(app: App):
    session_id = await _session_of(app.client)
    terminal = await _hold(app, session_id, b"first")
    path = f"/api/v1/sessions/{session_id}/thumbnail"
    first = await app.client.get(path)
    await terminal.write(b" second")
    again = await app.client.get(path)
    assert first.content == again.content  # within the cache's seconds
    thumbnails = app.client._transport.app.state.thumbnails  # type: ignore[attr-defined]
    thumbnails._cache.clear()
    later = await app.client.get(path)
    assert _texts(later.content) == ["first second"]


async def test_an_ended_session_shows_its_state(app: App):
    session_id = await _session_of(app.client)
    assert (await app.client.delete(f"/api/v1/sessions/{session_id}")).status_code == 200
    response = await app.client.get(f"/api/v1/sessions/{session_id}/thumbnail")
    assert response.status_code == 200
    assert _texts(response.content) == ["terminal", "session released"]


def _row(kind: str, state: str = "ready", ports=None) -> SimpleNamespace:
    return SimpleNamespace(
        id=f"{kind}-1",
        state=state,
        template=SimpleNamespace(kind=kind),
        ports=ports,
        secret_sealed=None,
        environment=Environment(id="env-1", name="local", url="unix:///var/run/docker.sock"),
    )


@pytest.mark.parametrize(
    ("kind", "ports", "expected"),
    [
        ("rdp", {"3389": 1}, ["RDP desktop", "no preview for this kind"]),
        ("http", {"8888": 1}, ["web app", "no preview for this kind"]),
        ("ssh", {"22": 1}, ["SSH workspace", "no terminal open"]),
        ("vnc", None, ["desktop", "no desktop port"]),
    ],
)
async def test_kinds_without_a_screen_to_draw_get_a_placeholder_naming_them(
    app: App, kind, ports, expected
):
    thumbnails = app.client._transport.app.state.thumbnails  # type: ignore[attr-defined]
    thumbnail = await thumbnails.of(_row(kind, ports=ports))
    assert thumbnail.media_type == "image/svg+xml"
    assert _texts(thumbnail.content) == expected


async def test_a_desktop_that_does_not_answer_gets_a_placeholder_not_an_error(app: App):
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens on the port now
    thumbnails = app.client._transport.app.state.thumbnails  # type: ignore[attr-defined]
    thumbnail = await thumbnails.of(_row("vnc", ports={"5901": port}))
    assert _texts(thumbnail.content) == ["desktop", "no frame from the desktop"]


async def test_a_thumbnail_asked_for_at_once_by_many_is_made_once(app: App, monkeypatch):
    thumbnails = app.client._transport.app.state.thumbnails  # type: ignore[attr-defined]
    made = 0
    real = thumbnails._make

    async def counting(session):
        nonlocal made
        made += 1
        await asyncio.sleep(0.05)
        return await real(session)

    monkeypatch.setattr(thumbnails, "_make", counting)
    answers = await asyncio.gather(*(thumbnails.of(_row("rdp")) for _ in range(20)))
    assert made == 1 and len({a.content for a in answers}) == 1
