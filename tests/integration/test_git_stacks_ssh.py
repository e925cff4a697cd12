"""A stack from a Git repository served over SSH by a real sshd container (key login,
host key pinned on the first fetch, a changed host key refused)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncssh

from tests.git_repos import BareRepo
from tests.integration.pool_machines import IMAGE, PoolMachine, wait_for_sshd
from tests.live_server import free_port

COMPOSE = """\
services:
  app:
    image: moorage/terminal:latest
    command: ["sleep", "infinity"]
"""
# The sshd image has no git: lend it the host's (same Debian release as the images).
GIT_BINDS = [
    f"{path}:{path}:ro"
    for path in ("/usr/bin/git", "/usr/bin/git-upload-pack", "/usr/lib/git-core")
]


async def start_git_host(docker, public_key: str, repo: BareRepo) -> PoolMachine:
    port = free_port()
    container = await docker.containers.run(
        name=f"moorage-test-githost-{port}",
        config={
            "Image": IMAGE,
            "Env": ["SSH_USER=git", f"SSH_AUTHORIZED_KEY={public_key}"],
            "Labels": {"moorage.test": "git-ssh"},
            "HostConfig": {
                "PortBindings": {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
                "Binds": [*GIT_BINDS, f"{repo.bare}:/srv/app.git"],
            },
        },
    )
    machine = PoolMachine("githost", port, container)
    await wait_for_sshd(port)
    return machine


async def test_git_stack_over_ssh_pins_the_host_key(admin, docker, tmp_path):
    repo = BareRepo(tmp_path / "repo")
    first = repo.push({"compose.yaml": COMPOSE}, "first")
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode().strip()
    machine = await start_git_host(docker, public, repo)
    name = f"gits-{uuid.uuid4().hex[:6]}"
    base = f"/api/v1/environments/local/stacks/{name}"
    try:
        code, out = await machine.run("chown", "-R", "git", "/srv/app.git")
        assert code == 0, out
        url = f"ssh://git@127.0.0.1:{machine.port}/srv/app.git"
        unauthorised = await admin.post(
            "/api/v1/environments/local/stacks", json={"name": name, "git": {"url": url}}
        )
        assert unauthorised.status_code == 422, unauthorised.text
        assert "Permission denied" in unauthorised.json()["error"]["message"]
        private = key.export_private_key().decode()
        created = await admin.post(
            "/api/v1/environments/local/stacks",
            json={
                "name": name,
                "git": {"url": url, "credential": {"ssh_private_key": private}},
                "stable_seconds": 0,
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["git"]["credential"] == "ssh"
        assert private not in created.text
        deadline = time.monotonic() + 60
        while (git := (await admin.get(base)).json()["git"])["commit"] != first:
            assert time.monotonic() < deadline, json.dumps(git)
            await asyncio.sleep(0.3)

        # A new host key is refused: the first one stays pinned.
        code, out = await machine.run(
            "bash", "-c", "rm /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP 1"
        )
        assert code == 0, out
        await wait_for_sshd(machine.port)
        assert (await admin.post(f"{base}/git/check")).status_code == 202
        deadline = time.monotonic() + 60
        while not (git := (await admin.get(base)).json()["git"])["error"]:
            assert time.monotonic() < deadline, json.dumps(git)
            await asyncio.sleep(0.3)
        assert "fetch" in git["error"] and "host key" in git["error"].lower(), git["error"]
        assert git["commit"] == first
    finally:
        await admin.post(f"{base}/down")
        await admin.delete(base)
        await machine.container.delete(force=True)
