"""Workspaces on another host (issue 15, "Reaching workspaces on another host"): an
engine in Docker-in-Docker sharing the network namespace of an sshd container
(:mod:`tests.integration.far_host`), so the ports its workspaces publish on 127.0.0.1
are that host's loopback, not this machine's. A terminal, a Jupyter web app and a
VNC desktop launched there work through the gateway: the terminal through Docker
exec over the environment's connection, the app, the desktop and its thumbnail
through ports forwarded over the same connection (:mod:`moorage.gateway.reach`).

Two ways to that host:

* ``ssh://``: an SSH login to the sshd;
* ``agent://``: ``moorage agent run --docker`` in the host's network namespace,
  dialling the hub through Debian's nginx running the shipped site; nothing on the
  host listens for the hub. The node's environment appears cordoned at the first
  tunnel; the tunnel is then cut (the agent killed): Docker calls answer a clear 503,
  and a restarted agent makes the environment usable again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiodocker
import httpx
import pytest
import websockets

from tests.integration.dind_engines import own_server
from tests.integration.far_host import (
    FarHost,
    add_far_environment,
    agent_environment,
    far_agent,
    far_host,
)
from tests.integration.terminal_client import TerminalClient, terminal
from tests.live_server import Server

pytestmark = pytest.mark.docker

TEMPLATES = {
    "shell": {"kind": "terminal", "image": "moorage/terminal:latest"},
    "jupyter": {"kind": "http", "image": "moorage/jupyter:latest", "memory_limit_mb": 1024},
    "desktop": {"kind": "vnc", "image": "moorage/desktop:latest", "memory_limit_mb": 1024},
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


async def say(url: str, token: str, word: str) -> None:
    """Run ``echo <word>-42`` in the terminal at ``url`` and see its output."""
    async with terminal(url, token=token) as connection:
        client = TerminalClient(connection)
        await client.send(f"echo {word}-$((6*7)) $(hostname)\r")
        await client.expect(f"{word}-42")


async def launch_and_use(
    admin: httpx.AsyncClient, far: FarHost, environment: str, via: str
) -> tuple[list[dict], str]:
    """Templates ``<via>-shell``, ``-jupyter`` and ``-desktop`` placed on
    ``environment`` (by a label of its own), launched at once and used through the
    gateway; returns the three sessions and an API token of the admin."""
    labels = {"site": f"far-{via}"}
    patched = await admin.patch(f"/api/v1/environments/{environment}", json={"labels": labels})
    assert patched.status_code == 200, patched.text
    for suffix, fields in TEMPLATES.items():
        name = f"{via}-{suffix}"
        made = await admin.post(
            "/api/v1/templates",
            json={"name": name, "display_name": name, "environment_labels": labels, **fields},
        )
        assert made.status_code == 201, made.text
    launched = await asyncio.gather(
        *(admin.post("/api/v1/sessions", json={"template": f"{via}-{t}"}) for t in TEMPLATES)
    )
    assert [r.status_code for r in launched] == [201] * 3, [r.text for r in launched]
    shell, jupyter, desktop = sessions = [r.json() for r in launched]
    assert {s["environment"] for s in sessions} == {environment}
    assert await far.containers() == {s["id"] for s in sessions}
    # Their ports are on the far host's loopback: no native-client details here.
    assert all(s.get("connection") is None for s in sessions)

    token = (await admin.post("/api/v1/tokens", json={"name": via})).json()["token"]
    await say(shell["urls"]["terminal"], token, via)

    page = await admin.get(jupyter["urls"]["app"], follow_redirects=True)
    assert page.status_code == 200 and "Jupyter" in page.text, page.text[:300]
    kernel = await admin.post(f"{jupyter['urls']['app']}api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text

    async with websockets.connect(
        desktop["urls"]["desktop"],
        subprotocols=["binary"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        assert await asyncio.wait_for(ws.recv(), 30) == b"RFB 003.008\n"
    # The desktop draws a frame a moment after Xvnc answers: its thumbnail is a PNG.
    for _ in range(30):
        thumbnail = await admin.get(f"/api/v1/sessions/{desktop['id']}/thumbnail")
        if thumbnail.headers["content-type"] == "image/png":
            break
        await asyncio.sleep(1)
    assert thumbnail.headers["content-type"] == "image/png", thumbnail.text[:300]
    return sessions, token


async def release_all_gone(admin: httpx.AsyncClient, far: FarHost, sessions: list[dict]) -> None:
    """Release ``sessions``; their containers leave the far engine."""
    for session in sessions:
        ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
        assert ended.status_code == 200, ended.text
    for _ in range(30):
        if not await far.containers():
            break
        await asyncio.sleep(1)
    assert not await far.containers()


async def test_a_terminal_an_app_and_a_desktop_on_an_ssh_environment(
    far: FarHost, far_server: Server
):
    admin = await far_server.login()
    admin.timeout = httpx.Timeout(180)
    try:
        await add_far_environment(admin, far, "far", {})
        sessions, _ = await launch_and_use(admin, far, "far", "ssh")
        await release_all_gone(admin, far, sessions)
        # Kept for Docker management alone from here on.
        cordoned = await admin.patch("/api/v1/environments/far", json={"state": "cordoned"})
        assert cordoned.status_code == 200, cordoned.text
    finally:
        await admin.aclose()


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
                json={"url": f"agent://{node}{agent.socket}", "state": "active"},
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["status"] == "reachable", patched.json()["last_error"]
            sessions, token = await launch_and_use(admin, far, name, "agent")

            # Cut: Docker calls fail with a clear 503 naming the node.
            agent.kill()
            cut = await admin.get(f"/api/v1/environments/{name}/containers")
            assert cut.status_code == 503, cut.text
            assert node in cut.json()["error"]["message"], cut.text
            # Restored: usable again as soon as the agent has dialled in.
            agent.start()
            started = time.monotonic()
            while (await admin.get(f"/api/v1/environments/{name}/containers")).status_code != 200:
                assert time.monotonic() - started < 30, "the tunnel did not come back"
                await asyncio.sleep(0.2)
            await say(sessions[0]["urls"]["terminal"], token, "back")
            await release_all_gone(admin, far, sessions)
    finally:
        await admin.aclose()
