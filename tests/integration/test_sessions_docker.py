"""Sessions against the real Docker engine through a real ``moorage serve``."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
import websockets

from tests.integration.conftest import session_containers
from tests.integration.terminal_client import TerminalClient, terminal


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def token_for(client) -> str:
    response = await client.post("/api/v1/tokens", json={"name": "integration"})
    assert response.status_code == 201
    return response.json()["token"]


async def launch(client, **body) -> dict:
    response = await client.post("/api/v1/sessions", json={"template": "debian-shell", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_launch_runs_a_labelled_limited_unprivileged_container(admin, docker):
    session = await launch(admin, duration_minutes=5)
    assert session["state"] == "ready"
    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session["id"]
    ]
    info = await container.show()
    labels = info["Config"]["Labels"]
    assert labels["moorage.user"] == "admin"
    assert labels["moorage.template"] == "debian-shell"
    assert parse(labels["moorage.expires_at"]) <= parse(session["expires_at"])
    host = info["HostConfig"]
    assert host["NanoCpus"] == 1_000_000_000
    assert host["Memory"] == 512 * 1024 * 1024
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges" in host["SecurityOpt"]
    assert not host.get("PortBindings")
    assert info["State"]["Running"] is True


async def test_terminal_round_trip_and_resize(admin, docker):
    session = await launch(admin)
    token = await token_for(admin)
    async with terminal(session["urls"]["terminal"] + "?cols=100&rows=30", token=token) as ws:
        term = TerminalClient(ws)
        await term.send("echo moorage-$((6*7)); whoami\n")
        output = await term.expect("moorage-42")
        await term.expect("\nuser")
        assert "moorage-42" in output
        await term.send("stty size\n")
        await term.expect("30 100")
        await term.resize(123, 45)
        await asyncio.sleep(0.2)
        await term.send("stty size\n")
        await term.expect("45 123")


async def test_terminal_refuses_other_users_and_anonymous(server, admin):
    session = await launch(admin)
    await admin.post("/api/v1/users", json={"username": "mallory", "password": "mallory-pass"})
    mallory = await server.login("mallory", "mallory-pass")
    mallory_token = await token_for(mallory)
    await mallory.aclose()
    async with terminal(session["urls"]["terminal"]) as ws:
        with pytest.raises(websockets.ConnectionClosed) as anonymous:
            await ws.recv()
    assert anonymous.value.rcvd.code == 4401
    async with terminal(session["urls"]["terminal"], token=mallory_token) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert "no session" in closed.value.rcvd.reason
    cross_site = {"Origin": "http://evil.example"}
    async with websockets.connect(
        session["urls"]["terminal"],
        additional_headers={**cross_site, "Cookie": f"moorage_login={mallory_token}"},
    ) as ws:
        with pytest.raises(websockets.ConnectionClosed) as forged:
            await ws.recv()
    assert forged.value.rcvd.code == 4403
    assert closed.value.rcvd.code == 4404


async def test_extend_then_delete_removes_the_container(admin, docker):
    session = await launch(admin, duration_minutes=10)
    extended = await admin.post(f"/api/v1/sessions/{session['id']}/extend", json={"minutes": 5})
    assert extended.status_code == 200
    assert (parse(extended.json()["expires_at"]) - parse(session["expires_at"])).seconds == 300
    ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
    assert ended.json()["state"] == "released"
    ids = [c._container["Labels"]["moorage.session"] for c in await session_containers(docker)]
    assert session["id"] not in ids


async def test_a_short_session_expires_on_time(admin, docker):
    session = await launch(admin, duration_seconds=10)
    for _ in range(300):
        row = (await admin.get(f"/api/v1/sessions/{session['id']}")).json()
        if row["state"] == "released":
            break
        await asyncio.sleep(0.1)
    assert row["state"] == "released"
    lateness = (parse(row["released_at"]) - parse(row["expires_at"])).total_seconds()
    assert 0 <= lateness < 2
    ids = [c._container["Labels"]["moorage.session"] for c in await session_containers(docker)]
    assert session["id"] not in ids


async def test_bad_inputs_leave_no_container_and_no_row(admin, docker):
    before = {c.id for c in await session_containers(docker)}
    rows_before = len((await admin.get("/api/v1/sessions?all=true")).json())
    unknown = await admin.post("/api/v1/sessions", json={"template": "no-such-template"})
    assert unknown.status_code == 404
    too_long = await admin.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 10_000}
    )
    assert too_long.status_code == 422
    assert "240" in too_long.json()["error"]["message"]
    too_short = await admin.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_seconds": 3}
    )
    assert too_short.status_code == 422
    await admin.post(
        "/api/v1/templates",
        json={
            "name": "only-one",
            "display_name": "Only one",
            "image": "moorage/terminal:latest",
            "max_sessions_per_user": 1,
        },
    )
    first = await admin.post("/api/v1/sessions", json={"template": "only-one"})
    assert first.status_code == 201
    second = await admin.post("/api/v1/sessions", json={"template": "only-one"})
    assert second.status_code == 429
    assert "limit is 1" in second.json()["error"]["message"]
    missing_image = await admin.post(
        "/api/v1/templates",
        json={"name": "no-image", "display_name": "No image", "image": "moorage/absent:never"},
    )
    assert missing_image.status_code == 201
    absent = await admin.post("/api/v1/sessions", json={"template": "no-image"})
    assert absent.status_code == 503
    assert absent.json()["error"]["code"] == "image_missing"
    after = {c.id for c in await session_containers(docker)}
    assert len(after - before) == 1  # only the one accepted launch
    rows = (await admin.get("/api/v1/sessions?all=true")).json()
    assert len(rows) == rows_before + 1  # only the accepted launch
    assert rows[0]["id"] == first.json()["id"] and rows[0]["state"] == "ready"
