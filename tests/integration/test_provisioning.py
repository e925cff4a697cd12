"""Ansible provisioning of a pool of real sshd machines, through the API."""

from __future__ import annotations

import asyncio
import signal
import time

from tests.integration.test_reservations_ssh import import_pool, machines, pool_server  # noqa: F401


async def test_a_playbook_runs_on_every_machine_and_keeps_its_output(pool_server, machines):  # noqa: F811
    admin = await pool_server.login()
    await import_pool(admin, machines[:2])
    assert "motd.yml" in (await admin.get("/api/v1/playbooks")).json()
    unknown = await admin.post("/api/v1/pools/default/provision", json={"playbook": "nope.yml"})
    assert unknown.status_code == 422 and "motd.yml" in unknown.json()["error"]["message"]

    started = await admin.post(
        "/api/v1/pools/default/provision",
        json={"playbook": "motd.yml", "extra_vars": {"motd": "provisioned by the test"}},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    run = started.json()
    for _ in range(600):
        run = (await admin.get(f"/api/v1/provision-runs/{run_id}")).json()
        if run["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.2)
    assert run["status"] == "successful", run["output"]
    assert run["return_code"] == 0
    assert "PLAY RECAP" in run["output"]
    for machine in machines[:2]:
        code, output = await machine.run("cat", "/etc/motd")
        assert code == 0 and output.strip() == "provisioned by the test"
    listed = (await admin.get("/api/v1/pools/default/provision-runs")).json()
    assert listed[0]["id"] == run_id
    await admin.aclose()


async def test_sigterm_after_a_run_stops_the_server_cleanly(pool_server, machines):  # noqa: F811
    """ansible-runner used to install its own SIGTERM/SIGINT handlers on the event loop's
    thread, after which `moorage serve` ignored SIGTERM until SIGKILLed."""
    admin = await pool_server.login()
    await import_pool(admin, machines[:1])
    started = await admin.post("/api/v1/pools/default/provision", json={"playbook": "motd.yml"})
    assert started.status_code == 202, started.text
    run = started.json()
    for _ in range(600):
        run = (await admin.get(f"/api/v1/provision-runs/{run['id']}")).json()
        if run["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.2)
    assert run["status"] == "successful", run["output"]
    await admin.aclose()

    process = pool_server.process
    assert process is not None
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 10)  # TimeoutExpired: the bug
    assert time.monotonic() - began < 10
    # uvicorn shuts down, then raises the signal it caught again: -SIGTERM, after the log.
    assert code in (0, -signal.SIGTERM)
    assert pool_server.log_path is not None
    log = pool_server.log_path.read_text()
    assert "Shutting down" in log and "Application shutdown complete" in log
