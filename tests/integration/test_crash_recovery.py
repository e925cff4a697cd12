"""SIGKILL in the middle of launches, then a restart: nothing leaks, nothing stays stuck."""

from __future__ import annotations

import asyncio
import signal

import httpx

from tests.integration.conftest import session_containers


async def test_sigkill_during_launches_leaves_no_leak_after_restart(fresh_server, docker):
    fresh_server.start()
    client = await fresh_server.login()
    org = (await client.get("/api/v1/auth/me")).json()
    assert org["username"] == "admin"
    await client.post(
        "/api/v1/templates",
        json={
            "name": "many",
            "display_name": "Many",
            "image": "moorage/terminal:latest",
            "max_sessions_per_user": 50,
        },
    )
    ready = (await client.post("/api/v1/sessions", json={"template": "many"})).json()

    async def try_launch():
        try:
            await client.post("/api/v1/sessions", json={"template": "many"})
        except httpx.HTTPError:
            pass  # the server dies under us: that is the point

    launches = [asyncio.create_task(try_launch()) for _ in range(6)]
    # Kill as soon as some launch has a container but is not ready yet.
    ours = set()
    for _ in range(200):
        ours = {
            c.id
            for c in await session_containers(docker)
            if c._container["Labels"].get("moorage.session") != ready["id"]
            and c._container["Labels"].get("moorage.org")
            == ready_org(await session_containers(docker), ready["id"])
        }
        if ours:
            break
        await asyncio.sleep(0.02)
    fresh_server.stop(signal.SIGKILL)
    await asyncio.gather(*launches)
    await client.aclose()

    fresh_server.start()
    client = await fresh_server.login()
    try:
        rows = []
        for _ in range(100):
            rows = (await client.get("/api/v1/sessions?all=true")).json()
            if not any(r["state"] in ("provisioning", "pending", "releasing") for r in rows):
                break
            await asyncio.sleep(0.1)
        states = {r["id"]: r["state"] for r in rows}
        assert "provisioning" not in states.values() and "pending" not in states.values()
        assert states[ready["id"]] == "ready"
        interrupted = [r for r in rows if r["error"] == "the launch was interrupted"]
        assert interrupted, "the kill did not catch a launch in progress"
        live = {r["id"] for r in rows if r["state"] == "ready"}
        for _ in range(50):
            labelled = {
                c._container["Labels"]["moorage.session"]
                for c in await session_containers(docker)
                if c._container["Labels"]["moorage.session"] in states
            }
            if labelled == live:
                break
            await asyncio.sleep(0.1)
        assert labelled == live, f"containers {labelled} vs ready sessions {live}"
    finally:
        for row in (await client.get("/api/v1/sessions?all=true&live=true")).json():
            await client.delete(f"/api/v1/sessions/{row['id']}")
        await client.aclose()


def ready_org(containers, session_id: str) -> str | None:
    for container in containers:
        if container._container["Labels"].get("moorage.session") == session_id:
            return container._container["Labels"].get("moorage.org")
    return None
