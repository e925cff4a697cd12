"""Workspaces on another host reached over SSH (issue 15, "Reaching workspaces on
another host"): an ``ssh://`` environment whose engine is a Docker-in-Docker engine
sharing the network namespace of an sshd container, so the ports its workspaces
publish on 127.0.0.1 are that host's loopback, not this machine's. A terminal, a
Jupyter web app and a VNC desktop launched there work through the gateway: the
terminal through Docker exec over the tunnel, the app and the desktop through ports
forwarded over the same SSH connection (:mod:`moorage.gateway.reach`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiodocker
import httpx
import pytest
import websockets

from tests.integration.dind_engines import own_server
from tests.integration.far_host import FarHost, add_far_environment, far_host
from tests.integration.terminal_client import TerminalClient, terminal
from tests.live_server import Server

pytestmark = pytest.mark.docker

LABELS = {"site": "far"}
TEMPLATES = {
    "far-shell": {"kind": "terminal", "image": "moorage/terminal:latest"},
    "far-jupyter": {"kind": "http", "image": "moorage/jupyter:latest", "memory_limit_mb": 1024},
    "far-desktop": {"kind": "vnc", "image": "moorage/desktop:latest", "memory_limit_mb": 1024},
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


async def test_a_terminal_an_app_and_a_desktop_on_an_ssh_environment(
    far: FarHost, far_server: Server
):
    admin = await far_server.login()
    admin.timeout = httpx.Timeout(180)
    try:
        await add_far_environment(admin, far, "far", LABELS)
        for name, fields in TEMPLATES.items():
            made = await admin.post(
                "/api/v1/templates",
                json={"name": name, "display_name": name, "environment_labels": LABELS, **fields},
            )
            assert made.status_code == 201, made.text
        launched = await asyncio.gather(
            *(admin.post("/api/v1/sessions", json={"template": name}) for name in TEMPLATES)
        )
        assert [r.status_code for r in launched] == [201] * 3, [r.text for r in launched]
        shell, jupyter, desktop = (r.json() for r in launched)
        assert {s["environment"] for s in (shell, jupyter, desktop)} == {"far"}
        assert await far.containers() == {s["id"] for s in (shell, jupyter, desktop)}
        # Their ports are on the far host's loopback: no native-client details here.
        assert all(s.get("connection") is None for s in (shell, jupyter, desktop))

        token = (await admin.post("/api/v1/tokens", json={"name": "far"})).json()["token"]
        async with terminal(shell["urls"]["terminal"], token=token) as connection:
            client = TerminalClient(connection)
            await client.send("echo far-$((6*7)) $(hostname)\r")
            await client.expect("far-42")

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
