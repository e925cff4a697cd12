"""Warm pools on the real Docker engine: a claimed terminal answers at once, a
claimed desktop answers the gateway with the password set at the claim, a claimed
SSH box takes the new password and refuses the one it was started with."""

from __future__ import annotations

import asyncio
import time

import aiodocker
import asyncssh
import pytest
import websockets

from moorage.services.kinds.rfb import RFB_VERSION
from tests.integration.conftest import Server, remove_workspaces_of
from tests.integration.terminal_client import TerminalClient, terminal


async def wait_warm(admin, templates: dict[str, int], timeout_seconds: float = 90) -> dict:
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = (await admin.get("/api/v1/reconciler")).json()["warm"]["templates"]
        if all(status.get(name, {}).get("warm") == n for name, n in templates.items()):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"warm pools not filled: {status}")
        await asyncio.sleep(0.3)


async def test_claimed_workspaces_are_usable_at_once_with_secrets_set_at_the_claim(
    fresh_server: Server, docker: aiodocker.Docker
):
    for image in ("moorage/desktop:latest", "moorage/sshd:latest"):
        try:
            await docker.images.inspect(image)
        except aiodocker.DockerError:
            pytest.fail(f"{image} is missing; `make test` builds it")
    fresh_server.extra_env["MOORAGE_WARM_INTERVAL_SECONDS"] = "0.5"
    fresh_server.start(timeout=120)
    admin = await fresh_server.login()
    warm_ids_seen: set[str] = set()

    async def warm_ids() -> set[str]:
        listed = await docker.containers.list(all=True, filters={"label": ["moorage.warm"]})
        found = {c._container["Labels"]["moorage.warm"] for c in listed}
        warm_ids_seen.update(found)
        return found

    try:
        for name in ("debian-shell", "linux-desktop", "ssh-box"):
            response = await admin.patch(f"/api/v1/templates/{name}", json={"warm": 1})
            assert response.status_code == 200, response.text
        await wait_warm(admin, {"debian-shell": 1, "linux-desktop": 1, "ssh-box": 1})
        before = await warm_ids()
        token = (await admin.post("/api/v1/tokens", json={"name": "warm"})).json()["token"]

        shell = (await admin.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
        assert shell["id"] in before  # the warm container, not a new one
        async with terminal(shell["urls"]["terminal"], token=token) as ws:
            client = TerminalClient(ws)
            await client.send("echo warm-$((6*7))\n")
            await client.expect("warm-42")

        desktop = await admin.post("/api/v1/sessions", json={"template": "linux-desktop"})
        assert desktop.status_code == 201, desktop.text
        async with websockets.connect(
            desktop.json()["urls"]["desktop"],
            subprotocols=["binary"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=None,
        ) as ws:
            assert await ws.recv() == RFB_VERSION  # Moorage authenticated with the new password
            await ws.send(RFB_VERSION)
            assert await ws.recv() == bytes([1, 1])
            await ws.send(bytes([1]))
            assert await ws.recv() == b"\0\0\0\0"
            await ws.send(b"\x01")  # ClientInit (shared)
            server_init = await asyncio.wait_for(ws.recv(), 10)
            assert len(server_init) >= 24  # width, height, pixel format, name

        box = (await admin.post("/api/v1/sessions", json={"template": "ssh-box"})).json()
        assert box["id"] in before and desktop.json()["id"] in before
        await warm_ids()  # the refills, removed at the end
        connection = box["connection"]
        async with asyncssh.connect(
            "127.0.0.1",
            connection["port"],
            username=connection["username"],
            password=connection["password"],
            known_hosts=None,
        ) as ssh:
            assert (await ssh.run("whoami", check=True)).stdout.strip() == "user"
    finally:
        await admin.aclose()
        await remove_workspaces_of(fresh_server, docker)
        fresh_server.stop()  # no refill after this
        for container in await docker.containers.list(
            all=True, filters={"label": ["moorage.warm"]}
        ):
            if container._container["Labels"]["moorage.warm"] in warm_ids_seen:
                await container.delete(force=True)
