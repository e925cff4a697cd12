"""Workspaces of kind ssh: sshd in the container, a generated account per session."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import assert_secret_not_in_environment, session_containers
from tests.integration.pool_machines import ssh_login
from tests.integration.terminal_client import TerminalClient, terminal


async def test_ssh_workspace_login_browser_terminal_and_clean_end(admin, docker):
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "debian-ssh",
            "display_name": "Debian over SSH",
            "image": "moorage/sshd:latest",
            "kind": "ssh",
            "shell_user": "student",
            "max_sessions_per_user": 2,
        },
    )
    assert created.status_code == 201, created.text
    launched = await admin.post("/api/v1/sessions", json={"template": "debian-ssh"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    connection = session["connection"]
    assert connection["host"] == "127.0.0.1" and connection["username"] == "student"
    assert len(connection["password"]) >= 12
    assert connection["command"] == f"ssh -p {connection['port']} student@127.0.0.1"
    await assert_secret_not_in_environment(docker, session["id"], connection["password"])

    code, output = await asyncio.to_thread(
        ssh_login, connection["port"], "student", connection["password"], "id -un; hostname"
    )
    assert code == 0, output
    assert "student" in output
    code, output = await asyncio.to_thread(
        ssh_login, connection["port"], "student", "wrong-password"
    )
    assert code == 255

    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session["id"]
    ]
    info = await container.show()
    bindings = info["HostConfig"]["PortBindings"]["22/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert "SETUID" in info["HostConfig"]["CapAdd"] and info["HostConfig"]["CapDrop"] == ["ALL"]

    token = (await admin.post("/api/v1/tokens", json={"name": "ssh"})).json()["token"]
    async with terminal(session["urls"]["terminal"] + "?cols=90&rows=25", token=token) as ws:
        term = TerminalClient(ws)
        await term.send("echo over-ssh-$((40+2)); stty size\n")
        await term.expect("over-ssh-42")
        await term.expect("25 90")

    ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
    assert ended.json()["state"] == "released"
    assert ended.json()["connection"]["password"] is None
    code, _ = await asyncio.to_thread(
        ssh_login, connection["port"], "student", connection["password"]
    )
    assert code == 255
