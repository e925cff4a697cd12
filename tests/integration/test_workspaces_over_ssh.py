"""Workspaces on another host reached over SSH (issue 15, "Reaching workspaces on
another host"): an ``ssh://`` environment whose engine is a Docker-in-Docker engine
sharing the network namespace of an sshd container, so the ports its workspaces
publish on 127.0.0.1 are that host's loopback, not this machine's. A terminal, a
Jupyter web app and a VNC desktop launched there work through the gateway: the
terminal through Docker exec over the tunnel, the app and the desktop through ports
forwarded over the same SSH connection (:mod:`moorage.gateway.reach`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import asyncssh
import httpx
import pytest
import websockets

from tests.integration.dind_engines import (
    Engine,
    load_image,
    own_server,
    remove_engines,
    start_engine_in,
)
from tests.integration.pool_machines import IMAGE as SSHD_IMAGE
from tests.integration.pool_machines import PoolMachine, wait_for_sshd
from tests.integration.terminal_client import TerminalClient, terminal
from tests.live_server import Server, free_port

pytestmark = pytest.mark.docker

LABELS = {"site": "far"}
TEMPLATES = {
    "far-shell": {"kind": "terminal", "image": "moorage/terminal:latest"},
    "far-jupyter": {"kind": "http", "image": "moorage/jupyter:latest", "memory_limit_mb": 1024},
    "far-desktop": {"kind": "vnc", "image": "moorage/desktop:latest", "memory_limit_mb": 1024},
}


@dataclass
class FarHost:
    """An sshd (login ``dock`` with ``key``) and an engine sharing its network."""

    machine: PoolMachine
    engine: Engine
    key: asyncssh.SSHKey

    @property
    def url(self) -> str:
        return f"ssh://dock@127.0.0.1:{self.machine.port}/var/run/dind/docker.sock"


@pytest.fixture(scope="module")
async def far_host(docker: aiodocker.Docker, dind_image: str) -> AsyncIterator[FarHost]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    port = free_port()
    socket_dir = Path(tempfile.mkdtemp(prefix="moorage-far-"))
    os.chmod(socket_dir, 0o755)  # the login user reaches the socket; its group decides
    sshd = await docker.containers.run(
        name=f"moorage-test-farhost-{uuid.uuid4().hex[:8]}",
        config={
            "Image": SSHD_IMAGE,
            "Env": ["SSH_USER=dock", f"SSH_AUTHORIZED_KEY={key.export_public_key().decode()}"],
            "Labels": {"moorage.test": "far-host"},
            "HostConfig": {
                "PortBindings": {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
                "Binds": [f"{socket_dir}:/var/run/dind"],
            },
        },
    )
    engine: Engine | None = None
    try:
        engine = await start_engine_in(
            docker, dind_image, f"container:{sshd.id}", "far", socket_dir
        )
        machine = PoolMachine("farhost", port, sshd)
        await wait_for_sshd(port)
        # The login user gets the socket's group, as `usermod -aG docker` does.
        code, gid = await machine.run("stat", "-c", "%g", "/var/run/dind/docker.sock")
        assert code == 0, gid
        code, out = await machine.run(
            "bash", "-c", f"groupadd -o -g {gid.strip()} dind && usermod -aG dind dock"
        )
        assert code == 0, out
        for template in TEMPLATES.values():
            await load_image(docker, [engine], template["image"])
        yield FarHost(machine, engine, key)
    finally:
        if engine is not None:
            await remove_engines(docker, None, [engine])
        await sshd.delete(force=True)
        shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture(scope="module")
async def far_server(far_host: FarHost, tmp_path_factory) -> AsyncIterator[Server]:
    """A server of this module's own; the far host goes after it."""
    async with own_server(tmp_path_factory) as instance:
        yield instance


async def far_containers(engine: Engine) -> set[str]:
    listed = await engine.client.containers.list(filters={"label": ["moorage.session"]})
    return {c._container["Labels"]["moorage.session"] for c in listed}


async def test_a_terminal_an_app_and_a_desktop_on_an_ssh_environment(
    far_host: FarHost, far_server: Server
):
    admin = await far_server.login()
    admin.timeout = httpx.Timeout(180)
    try:
        created = await admin.post(
            "/api/v1/environments",
            json={
                "name": "far",
                "url": far_host.url,
                "ssh_private_key": far_host.key.export_private_key().decode(),
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "reachable", created.json()["last_error"]
        patched = await admin.patch("/api/v1/environments/far", json={"labels": LABELS})
        assert patched.status_code == 200, patched.text
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
        assert await far_containers(far_host.engine) == {s["id"] for s in (shell, jupyter, desktop)}
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
            if not await far_containers(far_host.engine):
                break
            await asyncio.sleep(1)
        assert not await far_containers(far_host.engine)
    finally:
        await admin.aclose()
