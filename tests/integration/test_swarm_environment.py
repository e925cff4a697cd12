"""Sessions on a Docker Swarm (issue 15, "Docker Swarm"): a real ``moorage serve`` with
one Docker-in-Docker engine (:mod:`tests.integration.dind_engines`) made a swarm
manager by ``docker swarm init`` through its socket, registered as an environment of
kind ``swarm``; its ``local`` environment is cordoned, so every session lands there.

A session runs as a service of one replica with the template's limits (reserved as
well), the template's labels as node constraints and the Moorage labels; its
terminal works through the gateway (an exec on the manager's engine); an SSH
workspace's port, published by the node in host mode, is reached at the node's
address the swarm reports; release and expiry remove the service and its network,
on time."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import datetime

import aiodocker
import httpx
import pytest

from tests.integration.conftest import IMAGE
from tests.integration.dind_engines import (
    Engine,
    load_image,
    own_server,
    remove_engines,
    start_engines,
)
from tests.integration.terminal_client import TerminalClient, terminal
from tests.live_server import Server

pytestmark = pytest.mark.docker

SSH_IMAGE = "moorage/sshd:latest"
SITE = {"site": "swarm-lab"}
CPU_CORES = 0.25
MEMORY_MB = 128


@pytest.fixture(scope="module")
async def swarm(docker, dind_image) -> AsyncIterator[tuple[Engine, str]]:
    """One engine made a swarm manager (advertising its address on the test's own
    network), its node labelled ``site=swarm-lab``, holding the terminal image (and
    the SSH image). Yields the engine and its address; removed
    afterwards with its swarm, network and socket folder."""
    try:
        await docker.images.inspect(SSH_IMAGE)
    except aiodocker.DockerError:
        pytest.fail(f"{SSH_IMAGE} is not built; run `make test` (scripts/build-images.sh)")
    network, engines = await start_engines(docker, dind_image, ["swarm-manager"])
    engine = engines[0]
    try:
        for image in (IMAGE, SSH_IMAGE):
            await load_image(docker, engines, image)
        address = (await engine.container.show())["NetworkSettings"]["Networks"][network][
            "IPAddress"
        ]
        await engine.client.swarm.init(advertise_addr=address, listen_addr=f"{address}:2377")
        node_id = (await engine.client.system.info())["Swarm"]["NodeID"]
        node = await engine.client.nodes.inspect(node_id=node_id)
        await engine.client.nodes.update(
            node_id=node_id,
            version=node["Version"]["Index"],
            spec={**node["Spec"], "Labels": SITE},
        )
        yield engine, address
    finally:
        await remove_engines(docker, network, engines)


@pytest.fixture(scope="module")
async def swarm_server(swarm, tmp_path_factory) -> AsyncIterator[Server]:
    async with own_server(tmp_path_factory) as instance:
        yield instance


async def services(engine: Engine) -> dict[str, dict]:
    """The swarm's Moorage services by session id, asked of the manager."""
    listed = await engine.client.services.list(filters={"label": ["moorage.session"]})
    return {s["Spec"]["Labels"]["moorage.session"]: s for s in listed}


async def session_networks(engine: Engine) -> set[str]:
    listed = await engine.client.networks.list(filters={"label": ["moorage.session"]})
    return {n["Labels"]["moorage.session"] for n in listed}


async def gone(engine: Engine, session_id: str, seconds: float = 30) -> bool:
    """Whether the session's service and network are gone within ``seconds``."""
    for _ in range(int(seconds * 5)):
        if session_id not in await services(engine) and session_id not in (
            await session_networks(engine)
        ):
            return True
        await asyncio.sleep(0.2)
    return False


async def add_template(admin: httpx.AsyncClient, name: str, **fields: object) -> None:
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": name,
            "display_name": name,
            "image": IMAGE,
            "cpu_limit": CPU_CORES,
            "memory_limit_mb": MEMORY_MB,
            "environment_labels": SITE,
            "max_sessions_per_user": 10,
            **fields,
        },
    )
    assert created.status_code == 201, created.text


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_swarm_session_runs_as_a_service_is_reachable_and_is_reclaimed_on_time(
    swarm_server, swarm
):
    engine, address = swarm
    admin = await swarm_server.login()
    try:
        await _scenario(admin, engine, address)
    finally:
        await admin.aclose()


async def _scenario(admin: httpx.AsyncClient, engine: Engine, address: str) -> None:
    local = await admin.patch("/api/v1/environments/local", json={"state": "cordoned"})
    assert local.status_code == 200, local.text
    added = await admin.post(
        "/api/v1/environments", json={"name": "swarm", "url": engine.url, "kind": "swarm"}
    )
    assert added.status_code == 201, added.text
    row = added.json()
    assert (row["kind"], row["transport"], row["status"]) == ("swarm", "socket", "reachable"), row
    labelled = await admin.patch("/api/v1/environments/swarm", json={"labels": SITE})
    assert labelled.status_code == 200, labelled.text
    await add_template(admin, "swarm-shell")

    # Launched: within seconds (the image is named by its id: no registry lookup), one
    # service of one replica, limits reserved too, placed by the
    # template's labels, with the Moorage labels on service and container.
    started = time.monotonic()
    launched = await admin.post("/api/v1/sessions", json={"template": "swarm-shell"})
    assert launched.status_code == 201, launched.text
    assert time.monotonic() - started < 15
    session = launched.json()
    assert session["environment"] == "swarm"
    service = (await services(engine))[session["id"]]
    spec = service["Spec"]
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
    resources = spec["TaskTemplate"]["Resources"]
    assert resources["Limits"]["NanoCPUs"] == CPU_CORES * 1e9
    assert resources["Limits"]["MemoryBytes"] == MEMORY_MB * 1024 * 1024
    assert resources["Reservations"]["NanoCPUs"] == CPU_CORES * 1e9
    assert resources["Reservations"]["MemoryBytes"] == MEMORY_MB * 1024 * 1024
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == ["node.labels.site==swarm-lab"]
    container_labels = spec["TaskTemplate"]["ContainerSpec"]["Labels"]
    for labels in (spec["Labels"], container_labels):
        assert labels["moorage.session"] == session["id"]
        assert labels["moorage.template"] == "swarm-shell"
    assert session["id"] in await session_networks(engine)

    # Reachable: the terminal is an exec in the task's container, through the gateway.
    token = (await admin.post("/api/v1/tokens", json={"name": "swarm"})).json()["token"]
    async with terminal(session["urls"]["terminal"], token=token) as connection:
        client = TerminalClient(connection)
        await client.send("echo swarm-$((6*7))\r")
        await client.expect("swarm-42", timeout_seconds=30)
    # A swarm keeps no disk for a stopped task: stopping is refused, not faked.
    stopped = await admin.post(f"/api/v1/sessions/{session['id']}/stop")
    assert stopped.status_code == 409, stopped.text

    # Released: the service and its network go.
    ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
    assert ended.status_code == 200, ended.text
    assert await gone(engine, session["id"])

    # A port the template publishes: sshd's, published by the node (host mode) and
    # reached at the address the swarm reports for it.
    await _ssh_session(admin, engine, address, token)

    # Expired: reclaimed at its deadline, its service and network removed at once.
    short = await admin.post(
        "/api/v1/sessions", json={"template": "swarm-shell", "duration_seconds": 15}
    )
    assert short.status_code == 201, short.text
    short_id = short.json()["id"]
    assert short_id in await services(engine)
    for _ in range(600):
        row = (await admin.get(f"/api/v1/sessions/{short_id}")).json()
        if row["state"] == "released":
            break
        await asyncio.sleep(0.1)
    assert row["state"] == "released", row
    lateness = (parse(row["released_at"]) - parse(row["expires_at"])).total_seconds()
    assert 0 <= lateness < 2, lateness
    assert await gone(engine, short_id, seconds=10)


async def _ssh_session(admin: httpx.AsyncClient, engine: Engine, address: str, token: str) -> None:
    await add_template(
        admin, "swarm-ssh", image=SSH_IMAGE, kind="ssh", shell_user="student", memory_limit_mb=256
    )
    launched = await admin.post("/api/v1/sessions", json={"template": "swarm-ssh"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    assert session.get("connection") is None  # the port is on a swarm node, not here
    service_id = (await services(engine))[session["id"]]["ID"]
    task = (await engine.client.tasks.list(filters={"service": service_id}))[0]
    published = task["Status"]["PortStatus"]["Ports"]
    assert [(p["TargetPort"], p["PublishMode"]) for p in published] == [(22, "host")]
    banner = await asyncio.to_thread(_first_line, address, published[0]["PublishedPort"])
    assert banner.startswith(b"SSH-2.0"), banner
    async with terminal(session["urls"]["terminal"], token=token) as connection:
        client = TerminalClient(connection)
        await client.send("echo over-ssh-$((40+2)); id -un\r")
        await client.expect("over-ssh-42", timeout_seconds=30)
    ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
    assert ended.status_code == 200, ended.text
    assert await gone(engine, session["id"])


def _first_line(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=5) as connection:
        return connection.makefile("rb").readline()
