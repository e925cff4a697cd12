"""Flowcase's API (seed 001) against a real ``moorage serve`` and Docker: a script
written from Flowcase's API list requests an instance, lists it, stops it, starts it
and destroys it, with a bearer token as its scripts would."""

from __future__ import annotations

import httpx

from tests.integration.conftest import session_containers
from tests.integration.terminal_client import TerminalClient, terminal


async def containers_of(docker, session_id: str) -> list:
    return [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session_id
    ]


async def test_a_flowcase_client_requests_stops_starts_and_destroys_an_instance(
    server, admin, docker
):
    token = (await admin.post("/api/v1/tokens", json={"name": "flowcase"})).json()["token"]
    flowcase = httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=90
    )
    try:
        droplets = (await flowcase.get("/api/droplets")).json()
        assert droplets["success"] is True
        (shell,) = [d for d in droplets["droplets"] if d["name"] == "debian-shell"]

        created = await flowcase.post("/api/instance/request", json={"droplet_id": shell["id"]})
        assert created.status_code == 200, created.text
        instance_id = created.json()["instance_id"]
        (container,) = await containers_of(docker, instance_id)
        assert (await container.show())["State"]["Running"] is True

        stopped = await flowcase.post(f"/api/instances/{instance_id}/stop")
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["instance"]["status"] == "stopped"
        info = await container.show()
        assert info["State"]["Running"] is False  # stopped, not removed: its disk is kept
        (listed,) = (await flowcase.get("/api/instances")).json()["instances"]
        assert listed["status"] == "stopped"
        again = await flowcase.post(f"/api/instances/{instance_id}/stop")
        assert again.status_code == 409 and again.json()["success"] is False

        started = await flowcase.post(f"/api/instances/{instance_id}/start")
        assert started.status_code == 200, started.text
        assert started.json()["instance"]["status"] == "running"
        session = (await admin.get(f"/api/v1/sessions/{instance_id}")).json()
        async with terminal(session["urls"]["terminal"], token=token) as ws:
            term = TerminalClient(ws)
            await term.send("echo flowcase-$((6*7))\n")
            await term.expect("flowcase-42")

        destroyed = await flowcase.get(f"/api/instance/{instance_id}/destroy")
        assert destroyed.json() == {"success": True}
        assert await containers_of(docker, instance_id) == []
        assert (await flowcase.get("/api/instances")).json()["instances"] == []
    finally:
        await flowcase.aclose()
