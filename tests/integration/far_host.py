"""A Docker host reached over SSH, for tests of ``ssh://`` environments whose
workspaces are out of this machine's reach except through the SSH connection.

An sshd container (login ``dock`` with a generated key, its port published on
127.0.0.1) and a Docker-in-Docker engine sharing its network namespace
(:mod:`tests.integration.dind_engines`): the ports the engine's workspaces publish
on 127.0.0.1 are that namespace's loopback, which only the sshd reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import asyncssh
import httpx

from tests.integration.dind_engines import Engine, load_image, remove_engines, start_engine_in
from tests.integration.nginx_site import nginx_in_front
from tests.integration.pool_machines import IMAGE as SSHD_IMAGE
from tests.integration.pool_machines import PoolMachine, wait_for_sshd
from tests.live_server import Server, free_port

__all__ = [
    "FarAgent",
    "FarHost",
    "add_far_environment",
    "agent_environment",
    "far_agent",
    "far_host",
]

SOCKET = "/var/run/dind/docker.sock"


@dataclass
class FarHost:
    """An sshd (login ``dock`` with ``key``) and an engine sharing its network."""

    machine: PoolMachine
    engine: Engine
    key: asyncssh.SSHKey

    @property
    def url(self) -> str:
        return f"ssh://dock@127.0.0.1:{self.machine.port}{SOCKET}"

    async def containers(self) -> set[str]:
        """The session ids of the workspace containers running on the far engine."""
        listed = await self.engine.client.containers.list(filters={"label": ["moorage.session"]})
        return {c._container["Labels"]["moorage.session"] for c in listed}


@contextlib.asynccontextmanager
async def far_host(
    docker: aiodocker.Docker, dind_image: str, images: Iterable[str]
) -> AsyncIterator[FarHost]:
    """A far host holding ``images``; removed afterwards with what ran there."""
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
        code, gid = await machine.run("stat", "-c", "%g", SOCKET)
        assert code == 0, gid
        code, out = await machine.run(
            "bash", "-c", f"groupadd -o -g {gid.strip()} dind && usermod -aG dind dock"
        )
        assert code == 0, out
        for image in images:
            await load_image(docker, [engine], image)
        yield FarHost(machine, engine, key)
    finally:
        if engine is not None:
            await remove_engines(docker, None, [engine])
        await sshd.delete(force=True)
        shutil.rmtree(socket_dir, ignore_errors=True)


async def add_far_environment(
    admin: httpx.AsyncClient, host: FarHost, name: str, labels: dict[str, str]
) -> None:
    """Register ``host`` as the environment ``name`` with ``labels`` (an admin's client)."""
    created = await admin.post(
        "/api/v1/environments",
        json={
            "name": name,
            "url": host.url,
            "ssh_private_key": host.key.export_private_key().decode(),
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "reachable", created.json()["last_error"]
    patched = await admin.patch(f"/api/v1/environments/{name}", json={"labels": labels})
    assert patched.status_code == 200, patched.text


@dataclass
class FarAgent:
    """``moorage agent run --docker`` on a far host: run in the host's network namespace
    (``nsenter --net``), so its loopback is the far engine's, dialling the hub through
    nginx on the gateway of a network the test made. Nothing listens on the far host
    for it."""

    host: FarHost
    folder: Path
    server: str
    ca_file: Path
    pid: int
    process: subprocess.Popen | None = None

    @property
    def config(self) -> Path:
        return self.folder / "agent.json"

    @property
    def socket(self) -> str:
        """The far engine's socket, as the agent (in this machine's filesystem) sees it."""
        return str(self.host.engine.socket_dir / "docker.sock")

    def _in_far_network(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", sys.executable, "-m", "moorage", *argv]

    def enroll(self, token: str) -> str:
        """Enrol through nginx; returns the node's name."""
        done = subprocess.run(
            self._in_far_network(
                "agent",
                "enroll",
                "--server",
                self.server,
                "--token",
                token,
                "--config",
                str(self.config),
                "--ca-file",
                str(self.ca_file),
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(self.config.read_text())["name"]

    def start(self) -> None:
        """Run the agent with its Docker tunnel (reports every 5 s)."""
        log = open(self.folder / f"agent-{time.time_ns()}.log", "w")
        self.process = subprocess.Popen(
            self._in_far_network(
                "agent",
                "run",
                "--docker",
                "--docker-socket",
                self.socket,
                "--config",
                str(self.config),
                "--interval",
                "5",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """Cut the tunnel the hard way (SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextlib.asynccontextmanager
async def far_agent(
    docker: aiodocker.Docker, host: FarHost, hub: Server, folder: Path
) -> AsyncIterator[FarAgent]:
    """An agent on ``host`` (not started: :meth:`FarAgent.enroll`, :meth:`FarAgent.start`)
    whose hub is ``hub`` behind nginx, which listens on the gateway address of a network
    made for it and joined by the far host."""
    network = await docker.networks.create(
        {"Name": f"moorage-test-agent-{uuid.uuid4().hex[:8]}", "Labels": {"moorage.test": "agent"}}
    )
    agent: FarAgent | None = None
    try:
        await network.connect({"Container": host.machine.container.id})
        gateway = (await network.show())["IPAM"]["Config"][0]["Gateway"]
        https = free_port()
        with nginx_in_front(folder / "nginx", gateway, https, free_port(), hub.port, gateway) as ca:
            info = await host.machine.container.show()
            agent = FarAgent(host, folder, f"https://{gateway}:{https}", ca, info["State"]["Pid"])
            yield agent
            agent.kill()
    finally:
        if agent is not None:
            agent.kill()
        with contextlib.suppress(aiodocker.DockerError):
            await network.disconnect({"Container": host.machine.container.id, "Force": True})
        await network.delete()


async def agent_environment(admin: httpx.AsyncClient, node: str) -> dict:
    """The environment the node's first tunnel added (waits for it)."""
    for _ in range(120):
        rows = (await admin.get("/api/v1/environments")).json()
        found = [row for row in rows if row["url"] == f"agent://{node}"]
        if found:
            return found[0]
        await asyncio.sleep(0.25)
    raise AssertionError(f"no environment agent://{node} appeared")
