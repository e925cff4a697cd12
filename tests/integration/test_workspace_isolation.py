"""Workspaces cannot reach each other: every session joins the engine's one shared
bridge, on which inter-container communication is disabled (so an engine is not
limited to the ~30 networks of Docker's default address pools)."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import session_containers

LISTEN_PORT = 8000
PROBE = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "except OSError as exc:\n"
    "    print('refused', exc)\n"
    "    sys.exit(1)\n"
    "print('connected')\n"
)


async def run(container, *command: str) -> tuple[int, str]:
    exec_ = await container.exec(list(command), user="user")
    output = b""
    async with exec_.start(detach=False) as stream:
        while (message := await stream.read_out()) is not None:
            output += message.data
    return (await exec_.inspect())["ExitCode"], output.decode(errors="replace")


async def container_of(docker, session_id: str):
    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session_id
    ]
    return container


async def session_networks(docker, session_id: str) -> list[dict]:
    return await docker.networks.list(filters={"label": [f"moorage.session={session_id}"]})


async def test_a_workspace_cannot_connect_to_another_on_the_shared_bridge(server, admin, docker):
    # Names of their own: the live server is shared with the other integration tests.
    for username in ("iso-mallory", "iso-victim"):
        created = await admin.post(
            "/api/v1/users", json={"username": username, "password": f"{username}-pass"}
        )
        assert created.status_code == 201, created.text
    mallory = await server.login("iso-mallory", "iso-mallory-pass")
    victim = await server.login("iso-victim", "iso-victim-pass")
    try:
        first = await mallory.post("/api/v1/sessions", json={"template": "debian-shell"})
        second = await victim.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert first.status_code == 201 and second.status_code == 201, first.text + second.text
        attacker = await container_of(docker, first.json()["id"])
        target = await container_of(docker, second.json()["id"])

        # Both sessions are on the one shared bridge (40 sessions do not need 40
        # networks), which has ICC off and no session label; none has its own network.
        shared = await docker.networks.get("moorage-workspaces")
        network = await shared.show()
        assert network["Driver"] == "bridge"
        assert network["Options"]["com.docker.network.bridge.enable_icc"] == "false"
        assert network["Labels"] == {"moorage.workspaces": "1"}
        for session, container in ((first.json(), attacker), (second.json(), target)):
            info = await container.show()
            assert list(info["NetworkSettings"]["Networks"]) == ["moorage-workspaces"]
            assert info["Id"] in network["Containers"]
            assert await session_networks(docker, session["id"]) == []
        target_ip = next(iter((await target.show())["NetworkSettings"]["Networks"].values()))[
            "IPAddress"
        ]

        # The victim's workspace listens on its container IP, and can reach itself there.
        listener = await target.exec(
            ["python3", "-m", "http.server", str(LISTEN_PORT), "--bind", "0.0.0.0"], user="user"
        )
        await listener.start(detach=True)
        code, output = 1, ""
        for _ in range(50):
            code, output = await run(target, "python3", "-c", PROBE, target_ip, str(LISTEN_PORT))
            if code == 0:
                break
            await asyncio.sleep(0.1)
        assert code == 0, output

        # The other member's workspace, on the same bridge, cannot open a connection
        # to it: the engine's firewall drops the packets (a timeout, not a reset).
        code, output = await run(attacker, "python3", "-c", PROBE, target_ip, str(LISTEN_PORT))
        assert code == 1 and "refused" in output, output
        # Name resolution still has a server: Docker's embedded DNS of user-defined networks.
        code, output = await run(attacker, "cat", "/etc/resolv.conf")
        assert "nameserver 127.0.0.11" in output, output

        for client, session in ((mallory, first.json()), (victim, second.json())):
            ended = await client.delete(f"/api/v1/sessions/{session['id']}")
            assert ended.json()["state"] == "released"
        # The shared bridge outlives its sessions (the next launch reuses it).
        assert (await shared.show())["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    finally:
        for client in (mallory, victim):
            for row in (await client.get("/api/v1/sessions?live=true")).json():
                await client.delete(f"/api/v1/sessions/{row['id']}")
            await client.aclose()
