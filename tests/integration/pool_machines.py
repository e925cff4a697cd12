"""Real sshd machines for pool tests: ``moorage/sshd`` containers with port 22
published on 127.0.0.1 at a fixed free port (stable across stop and start)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
from dataclasses import dataclass

import aiodocker

from tests.live_server import free_port

IMAGE = "moorage/sshd:latest"
ROOT_PASSWORD = "pool-root-password"


@dataclass
class PoolMachine:
    name: str
    port: int
    container: aiodocker.containers.DockerContainer

    def line(self) -> str:
        """Its ``machines.txt`` line."""
        return f"{self.name} 127.0.0.1 {self.port} root {ROOT_PASSWORD}"

    async def run(self, *argv: str) -> tuple[int, str]:
        """Run a command in the machine as root (docker exec): (exit code, output)."""
        exec_ = await self.container.exec(list(argv), stdout=True, stderr=True)
        chunks = []
        async with exec_.start(detach=False) as stream:
            while (message := await stream.read_out()) is not None:
                chunks.append(message.data)
        info = await exec_.inspect()
        return int(info["ExitCode"]), b"".join(chunks).decode(errors="replace")


async def wait_for_sshd(port: int, timeout_seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            banner = await asyncio.wait_for(reader.readline(), 2)
            writer.close()
            if banner.startswith(b"SSH-2.0"):
                return
        except (OSError, TimeoutError):
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"sshd on 127.0.0.1:{port} did not answer")
        await asyncio.sleep(0.1)


async def start_machines(docker: aiodocker.Docker, count: int, prefix: str) -> list[PoolMachine]:
    async def one(index: int) -> PoolMachine:
        port = free_port()
        name = f"{prefix}-{index}"
        container = await docker.containers.run(
            name=f"moorage-test-{name}-{port}",
            config={
                "Image": IMAGE,
                "Env": ["SSH_USER=root", f"SSH_PASSWORD={ROOT_PASSWORD}"],
                "Labels": {"moorage.test": "pool"},
                "HostConfig": {
                    "PortBindings": {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
                },
            },
        )
        await wait_for_sshd(port)
        return PoolMachine(name, port, container)

    return list(await asyncio.gather(*(one(i) for i in range(1, count + 1))))


async def remove_machines(machines: list[PoolMachine]) -> None:
    await asyncio.gather(
        *(m.container.delete(force=True) for m in machines), return_exceptions=True
    )


def ssh_login(port: int, username: str, password: str, command: str = "id -un") -> tuple[int, str]:
    """Log in with the real OpenSSH client and a password (SSH_ASKPASS, OpenSSH >= 8.4).

    Returns ``(exit code, output)``; exit 255 means ssh itself failed (refused login).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as askpass:
        askpass.write(f"#!/bin/sh\necho '{password}'\n")
    os.chmod(askpass.name, 0o700)
    try:
        env = dict(os.environ, SSH_ASKPASS=askpass.name, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        result = subprocess.run(
            [
                "ssh",
                "-p",
                str(port),
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
                f"{username}@127.0.0.1",
                command,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        return result.returncode, result.stdout + result.stderr
    finally:
        os.unlink(askpass.name)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
