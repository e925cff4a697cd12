"""A session stopped and started again on real Docker: its disk is kept, it stays
stopped across a server restart, it works again once started, and a stopped session
is still reclaimed at its deadline."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import session_containers
from tests.integration.pool_machines import ssh_login
from tests.integration.terminal_client import TerminalClient, terminal


async def containers_of(docker, session_id: str) -> list:
    return [
        c
        for c in await session_containers(docker)
        if c._container["Labels"].get("moorage.session") == session_id
    ]


async def test_a_stopped_session_keeps_its_disk_survives_a_restart_and_starts_again(
    fresh_server, docker
):
    fresh_server.start()
    client = await fresh_server.login()
    token = (await client.post("/api/v1/tokens", json={"name": "stop-start"})).json()["token"]
    session_id = None
    try:
        launched = await client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session = launched.json()
        session_id = session["id"]
        async with terminal(session["urls"]["terminal"], token=token) as ws:
            term = TerminalClient(ws)
            await term.send("echo kept-$((6*7)) > ~/kept.txt && echo wrote-$((1+1))\n")
            await term.expect("wrote-2")

        stopped = await client.post(f"/api/v1/sessions/{session_id}/stop")
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["state"] == "stopped"
        (container,) = await containers_of(docker, session_id)
        assert (await container.show())["State"]["Running"] is False  # stopped, not removed
        refused = await client.post(f"/api/v1/sessions/{session_id}/stop")
        assert refused.status_code == 409

        # A restart: the reconciler's passes at start-up and after must leave it stopped.
        await client.aclose()
        fresh_server.stop()
        fresh_server.start()
        client = await fresh_server.login()
        await asyncio.sleep(3)  # a few passes (MOORAGE_RECONCILE_INTERVAL_SECONDS=1)
        row = (await client.get(f"/api/v1/sessions/{session_id}")).json()
        assert row["state"] == "stopped", row
        (container,) = await containers_of(docker, session_id)
        assert (await container.show())["State"]["Running"] is False

        started = await client.post(f"/api/v1/sessions/{session_id}/start")
        assert started.status_code == 200, started.text
        assert started.json()["state"] == "ready"
        assert (await container.show())["State"]["Running"] is True
        async with terminal(started.json()["urls"]["terminal"], token=token) as ws:
            term = TerminalClient(ws)
            await term.send("cat ~/kept.txt\n")
            await term.expect("kept-42")  # the file written before the stop
        await asyncio.sleep(2)  # and the reconciler does not fail it once running again
        assert (await client.get(f"/api/v1/sessions/{session_id}")).json()["state"] == "ready"
    finally:
        if session_id is not None:
            await client.delete(f"/api/v1/sessions/{session_id}")
        await client.aclose()


async def test_a_stopped_session_is_reclaimed_at_its_deadline(fresh_server, docker):
    fresh_server.start()
    client = await fresh_server.login()
    try:
        launched = await client.post(
            "/api/v1/sessions", json={"template": "debian-shell", "duration_seconds": 12}
        )
        assert launched.status_code == 201, launched.text
        session_id = launched.json()["id"]
        stopped = await client.post(f"/api/v1/sessions/{session_id}/stop")
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
        assert len(await containers_of(docker, session_id)) == 1

        state = "stopped"
        for _ in range(300):
            state = (await client.get(f"/api/v1/sessions/{session_id}")).json()["state"]
            if state == "released":
                break
            await asyncio.sleep(0.1)
        assert state == "released"
        assert await containers_of(docker, session_id) == []
    finally:
        await client.aclose()


async def test_an_ssh_session_started_again_has_the_same_account_on_its_published_port(
    admin, docker
):
    """Its secret is delivered again (its tmpfs is empty after the stop), and the port
    the session names is the one Docker publishes now, wherever that is."""
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "ssh-stop-start",
            "display_name": "SSH stop and start",
            "image": "moorage/sshd:latest",
            "kind": "ssh",
            "shell_user": "student",
        },
    )
    assert created.status_code == 201, created.text
    session = (await admin.post("/api/v1/sessions", json={"template": "ssh-stop-start"})).json()
    password = session["connection"]["password"]
    code, output = await asyncio.to_thread(
        ssh_login, session["connection"]["port"], "student", password, "echo disk > ~/kept"
    )
    assert code == 0, output

    assert (await admin.post(f"/api/v1/sessions/{session['id']}/stop")).status_code == 200
    started = await admin.post(f"/api/v1/sessions/{session['id']}/start")
    assert started.status_code == 200, started.text
    connection = started.json()["connection"]
    assert connection["password"] == password and connection["username"] == "student"
    (container,) = await containers_of(docker, session["id"])
    published = (await container.show())["NetworkSettings"]["Ports"]["22/tcp"][0]["HostPort"]
    assert connection["port"] == int(published)
    code, output = await asyncio.to_thread(
        ssh_login, connection["port"], "student", password, "cat ~/kept"
    )
    assert code == 0 and "disk" in output, output
