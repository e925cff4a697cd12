"""An ``ssh://`` environment against a real sshd whose user may reach the engine's
socket: key login, pinned host key, the API working through the tunnel, and a
changed host key refused until it is pinned again."""

from __future__ import annotations

import uuid

import asyncssh

from tests.integration.pool_machines import IMAGE, PoolMachine, wait_for_sshd
from tests.live_server import free_port

SOCKET = "/var/run/docker.sock"


async def start_docker_host(docker, public_key: str) -> PoolMachine:
    port = free_port()
    container = await docker.containers.run(
        name=f"moorage-test-dockhost-{port}",
        config={
            "Image": IMAGE,
            "Env": ["SSH_USER=dock", f"SSH_AUTHORIZED_KEY={public_key}"],
            "Labels": {"moorage.test": "docker-ssh"},
            "HostConfig": {
                "PortBindings": {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
                "Binds": [f"{SOCKET}:{SOCKET}"],
            },
        },
    )
    machine = PoolMachine("dockhost", port, container)
    await wait_for_sshd(port)
    # Give the login user the socket's group, as `usermod -aG docker` does on a real host.
    code, gid = await machine.run("stat", "-c", "%g", SOCKET)
    assert code == 0, gid
    code, out = await machine.run(
        "bash", "-c", f"groupadd -g {gid.strip()} dockerhost && usermod -aG dockerhost dock"
    )
    assert code == 0, out
    return machine


async def test_environment_over_ssh(admin, docker):
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode().strip()
    machine = await start_docker_host(docker, public)
    name = f"ssh-{uuid.uuid4().hex[:6]}"
    url = f"ssh://dock@127.0.0.1:{machine.port}"
    private = key.export_private_key().decode()
    try:
        assert (
            await admin.post("/api/v1/environments", json={"name": name, "url": url})
        ).status_code == 422
        bad = await admin.post(
            "/api/v1/environments",
            json={"name": name, "url": url, "ssh_private_key": "not a key"},
        )
        assert bad.status_code == 422 and "ssh_private_key" in bad.text
        assert (
            await admin.post(
                "/api/v1/environments",
                json={"name": name, "url": "ssh://127.0.0.1", "ssh_private_key": private},
            )
        ).status_code == 422

        created = await admin.post(
            "/api/v1/environments", json={"name": name, "url": url, "ssh_private_key": private}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["kind"] == "ssh"
        assert body["status"] == "reachable", body
        assert body["engine_version"]
        code, host_keys = await machine.run("bash", "-c", "cat /etc/ssh/ssh_host_*_key.pub")
        assert body["ssh_host_key"].split()[1] in host_keys
        assert "PRIVATE" not in created.text

        # The engine behind the tunnel is this machine's: it lists the sshd container.
        listed = await admin.get(
            f"/api/v1/environments/{name}/containers", params={"name": f"dockhost-{machine.port}"}
        )
        assert listed.status_code == 200, listed.text
        names = [c["name"] for c in listed.json()]
        assert f"moorage-test-dockhost-{machine.port}" in names

        # The host is reinstalled: new host keys. The pinned key no longer matches.
        code, out = await machine.run(
            "bash",
            "-c",
            "rm /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP 1",
        )
        assert code == 0, out
        await wait_for_sshd(machine.port)
        changed = await admin.patch(f"/api/v1/environments/{name}", json={})
        assert changed.json()["status"] == "unreachable"
        assert "host key" in changed.json()["last_error"]
        trusted = await admin.patch(f"/api/v1/environments/{name}", json={"reset_host_key": True})
        assert trusted.json()["status"] == "reachable", trusted.json()
    finally:
        await admin.delete(f"/api/v1/environments/{name}")
        await machine.container.delete(force=True)
