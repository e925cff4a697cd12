"""Workshops on real Docker and a real server: participants join with the code (one
signed in, one anonymous), coming back gets the same container, a broadcast command
runs in every terminal with a result each, the instructor's observer link lets no
keystroke into a participant's terminal, a reset replaces the container, and the end
leaves 0 containers and 0 temporary users."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from moorage.services.shares import grant_cookie_name
from tests.integration.conftest import session_containers
from tests.integration.terminal_client import TerminalClient, terminal
from tests.integration.test_share_workspace import _eventually, _exists


async def _user(admin: httpx.AsyncClient, server, name: str, role: str) -> httpx.AsyncClient:
    made = await admin.post(
        "/api/v1/users", json={"username": name, "password": f"{name}-password", "role": role}
    )
    assert made.status_code == 201, made.text
    return await server.login(name, f"{name}-password")


async def _containers_of(docker, session_ids: set[str]) -> list:
    return [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] in session_ids
    ]


async def pool_back_to_normal(admin: httpx.AsyncClient, template: str = "debian-shell") -> dict:
    """Wait (up to 30 s: the warm pool keeper runs every 5 s) until the template's warm
    pool holds no more than its own ``warm`` target, the workshop's demand gone; the
    pool's status then."""
    status: dict = {}
    for _ in range(120):
        pools = (await admin.get("/api/v1/reconciler")).json()["warm"]["templates"]
        status = pools.get(template, {"target": 0, "warm": 0, "starting": 0})
        if status["warm"] + status["starting"] <= status["target"]:
            return status
        await asyncio.sleep(0.25)
    raise AssertionError(f"the warm pool of {template} did not shrink back: {status}")


async def test_a_workshop_from_join_to_end_on_real_docker(admin, server, docker):
    instructor = await _user(admin, server, "wk-teacher", "instructor")
    member = await _user(admin, server, "wk-student", "member")
    guest = server.client()
    try:
        made = await instructor.post(
            "/api/v1/workshops",
            json={
                "title": "Docker class",
                "template": "debian-shell",
                "capacity": 3,
                "anonymous": True,
                "duration_minutes": 30,
            },
        )
        assert made.status_code == 201, made.text
        workshop = made.json()
        code = workshop["join_code"]

        signed = await member.post("/api/v1/workshops/join", json={"code": code})
        assert signed.status_code == 200, signed.text
        anonymous = await guest.post(
            "/api/v1/workshops/join", json={"code": code, "display_name": "Ada"}
        )
        assert anonymous.status_code == 200, anonymous.text
        again = await guest.post("/api/v1/workshops/join", json={"code": code})
        assert again.json()["session_id"] == anonymous.json()["session_id"]
        ids = {signed.json()["session_id"], anonymous.json()["session_id"]}
        assert len(await _containers_of(docker, ids)) == 2

        # A broadcast command runs in both terminals, with a result for each.
        ran = await instructor.post(
            f"/api/v1/workshops/{workshop['id']}/broadcast",
            json={"command": "echo workshop-$((6*7))", "message": "Look at your terminal"},
        )
        assert ran.status_code == 200, ran.text
        results = ran.json()
        assert {r["session_id"] for r in results} == ids
        assert all(r["exit_code"] == 0 and "workshop-42" in r["output"] for r in results), results
        assert {r["participant"] for r in results} == {"wk-student", "Ada"}

        # The instructor observes the member read-only: their keys never reach the shell.
        seat = signed.json()["seat_id"]
        observed = await instructor.post(
            f"/api/v1/workshops/{workshop['id']}/participants/{seat}/observe", json={}
        )
        assert observed.status_code == 201, observed.text
        opened = await instructor.post(urlsplit(observed.json()["url"]).path, data={})
        assert opened.status_code == 303, opened.text
        session_id = signed.json()["session_id"]
        name = grant_cookie_name(session_id)
        login = instructor.cookies["moorage_login"]
        cookie = f"{name}={instructor.cookies[name]}; moorage_login={login}"
        session = (await member.get(f"/api/v1/sessions/{session_id}")).json()
        url = session["urls"]["terminal"]
        token = (await member.post("/api/v1/tokens", json={"name": "wk"})).json()["token"]
        async with terminal(url, token=token) as mine, terminal(url, cookie=cookie) as theirs:
            owner, observer = TerminalClient(mine), TerminalClient(theirs)
            await observer.send("touch /tmp/instructor-marker; echo OBSERVED\r")
            await owner.send("echo OWNER-$((6*7))\r")
            await observer.expect("OWNER-42")
            await owner.send("touch /tmp/owner-marker\r")
            assert await _eventually(lambda: _exists(docker, session_id, "/tmp/owner-marker"))
            assert not await _exists(docker, session_id, "/tmp/instructor-marker")

        # A reset gives the anonymous participant a new container; the old one goes.
        participants = (
            await instructor.get(f"/api/v1/workshops/{workshop['id']}/participants")
        ).json()
        ada = next(p for p in participants if p["display_name"] == "Ada")
        reset = await instructor.post(
            f"/api/v1/workshops/{workshop['id']}/participants/{ada['id']}/reset"
        )
        assert reset.status_code == 200, reset.text
        fresh = reset.json()["session_id"]
        assert fresh not in ids
        assert await _containers_of(docker, {anonymous.json()["session_id"]}) == []
        ids.add(fresh)
        assert len(await _containers_of(docker, ids)) == 2

        ended = await instructor.post(f"/api/v1/workshops/{workshop['id']}/end")
        assert ended.status_code == 200, ended.text
        for _ in range(50):
            if not await _containers_of(docker, ids):
                break
            await asyncio.sleep(0.2)
        assert await _containers_of(docker, ids) == []
        users = (await admin.get("/api/v1/users")).json()
        assert [u for u in users if u["username"].startswith("guest-")] == []
        await pool_back_to_normal(admin)  # the prewarmed workspaces go too
        assert (await guest.get("/api/v1/auth/me")).status_code == 401
        after = await member.post("/api/v1/workshops/join", json={"code": code})
        assert after.status_code == 410
    finally:
        for client in (instructor, member, guest):
            await client.aclose()
