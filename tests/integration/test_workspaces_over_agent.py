"""Workspaces on a host reached only through its agent's outbound tunnel (issue 15,
"The agent as an outbound tunnel"): ``moorage agent run --docker`` runs in the network
namespace of a far host (:func:`tests.integration.far_host.far_agent`) and dials the
hub through Debian's nginx running the shipped site. Nothing on the far host listens
for the hub: Docker calls and the workspaces' ports (on the far host's loopback) both
ride on the agent's websocket.

The node's environment appears cordoned at the first tunnel; once an operator makes
it active, a terminal, a Jupyter app and a VNC desktop work there through the
gateway. The tunnel is then cut (the agent killed): Docker calls answer a clear 503,
and a restarted agent makes the environment usable again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiodocker
import httpx
import pytest
import websockets

from tests.integration.dind_engines import own_server
from tests.integration.far_host import FarHost, agent_environment, far_agent, far_host
from tests.integration.terminal_client import TerminalClient, terminal
from tests.live_server import Server

pytestmark = pytest.mark.docker

LABELS = {"site": "far-agent"}
TEMPLATES = {
    "agent-shell": {"kind": "terminal", "image": "moorage/terminal:latest"},
    "agent-jupyter": {"kind": "http", "image": "moorage/jupyter:latest", "memory_limit_mb": 1024},
    "agent-desktop": {"kind": "vnc", "image": "moorage/desktop:latest", "memory_limit_mb": 1024},
}


@pytest.fixture(scope="module")
async def far(docker: aiodocker.Docker, dind_image: str) -> AsyncIterator[FarHost]:
    async with far_host(docker, dind_image, {t["image"] for t in TEMPLATES.values()}) as host:
        yield host


@pytest.fixture(scope="module")
async def far_server(far: FarHost, tmp_path_factory) -> AsyncIterator[Server]:
    """A server of this module's own; the far host goes after it."""
    async with own_server(tmp_path_factory) as instance:
        yield instance


async def test_workspaces_over_an_agent_tunnel_through_nginx_and_after_a_cut(
    docker: aiodocker.Docker, far: FarHost, far_server: Server, tmp_path
):
    admin = await far_server.login()
    admin.timeout = httpx.Timeout(180)
    try:
        async with far_agent(docker, far, far_server, tmp_path) as agent:
            made = await admin.post("/api/v1/enrollment-tokens", json={"name": "far-agent"})
            node = agent.enroll(made.json()["token"])
            agent.start()
            environment = await agent_environment(admin, node)
            assert environment["kind"] == "agent" and environment["state"] == "cordoned"
            name = environment["name"]
            audit = (await admin.get("/api/v1/audit")).json()
            assert any(
                e["action"] == "environment.add" and e["username"] == "(agent)" for e in audit
            )

            # The operator points it at the far engine's socket and lets sessions in.
            patched = await admin.patch(
                f"/api/v1/environments/{name}",
                json={"url": f"agent://{node}{agent.socket}", "state": "active", "labels": LABELS},
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["status"] == "reachable", patched.json()["last_error"]
            for template, fields in TEMPLATES.items():
                created = await admin.post(
                    "/api/v1/templates",
                    json={
                        "name": template,
                        "display_name": template,
                        "environment_labels": LABELS,
                        **fields,
                    },
                )
                assert created.status_code == 201, created.text

            launched = await asyncio.gather(
                *(admin.post("/api/v1/sessions", json={"template": t}) for t in TEMPLATES)
            )
            assert [r.status_code for r in launched] == [201] * 3, [r.text for r in launched]
            shell, jupyter, desktop = (r.json() for r in launched)
            assert {s["environment"] for s in (shell, jupyter, desktop)} == {name}
            assert await far.containers() == {s["id"] for s in (shell, jupyter, desktop)}
            assert all(s.get("connection") is None for s in (shell, jupyter, desktop))

            token = (await admin.post("/api/v1/tokens", json={"name": "agent"})).json()["token"]
            async with terminal(shell["urls"]["terminal"], token=token) as connection:
                client = TerminalClient(connection)
                await client.send("echo agent-$((6*7))\r")
                await client.expect("agent-42")

            # Jupyter's port is on the far host's loopback: only the tunnel reaches it.
            kernel = await admin.post(
                f"{jupyter['urls']['app']}api/kernels", json={"name": "python3"}
            )
            assert kernel.status_code == 201, kernel.text
            async with websockets.connect(
                desktop["urls"]["desktop"],
                subprotocols=["binary"],  # type: ignore[list-item]
                additional_headers={"Authorization": f"Bearer {token}"},
            ) as ws:
                assert await asyncio.wait_for(ws.recv(), 30) == b"RFB 003.008\n"

            # Cut: Docker calls fail with a clear 503 naming the node.
            agent.kill()
            cut = await admin.get(f"/api/v1/environments/{name}/containers")
            assert cut.status_code == 503, cut.text
            # Restored: usable again as soon as the agent has dialled in.
            agent.start()
            started = time.monotonic()
            while (await admin.get(f"/api/v1/environments/{name}/containers")).status_code != 200:
                assert time.monotonic() - started < 30, "the tunnel did not come back"
                await asyncio.sleep(0.2)
            async with terminal(shell["urls"]["terminal"], token=token) as connection:
                client = TerminalClient(connection)
                await client.send("echo back-$((6*7))\r")
                await client.expect("back-42")

            for session in (shell, jupyter, desktop):
                ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
                assert ended.status_code == 200, ended.text
            for _ in range(30):
                if not await far.containers():
                    break
                await asyncio.sleep(1)
            assert not await far.containers()
    finally:
        await admin.aclose()
