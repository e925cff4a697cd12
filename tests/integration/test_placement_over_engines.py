"""Placement over three real Docker engines (issue 15, "Many Docker hosts"): a real
``moorage serve`` with three Docker-in-Docker engines as environments
(:mod:`tests.integration.dind_engines`) and its ``local`` environment cordoned.
Sessions spread 4/4/4 and their containers run on the engines the sessions name; a
cordoned engine takes no more; operator capacities fill and then refuse with a 503
naming what is missing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from moorage.models.org import DEFAULT_ORG
from tests.integration.conftest import IMAGE
from tests.integration.dind_engines import (
    Engine,
    load_image,
    own_server,
    release_all,
    remove_engines,
    start_engines,
)
from tests.live_server import Server

pytestmark = pytest.mark.docker

ENGINES = ["engine-a", "engine-b", "engine-c"]
TEMPLATE = "dind-shell"
MEMORY_MB = 128
CPU_CORES = 0.25


@pytest.fixture(scope="module")
async def engines(docker, dind_image) -> AsyncIterator[list[Engine]]:
    """Three running engines holding the terminal image; removed afterwards with
    everything that ran in them, their network and their socket folders."""
    network, started = await start_engines(docker, dind_image, ENGINES)
    try:
        await load_image(docker, started, IMAGE)
        yield started
    finally:
        await remove_engines(docker, network, started)


@pytest.fixture(scope="module")
async def placement_server(engines, tmp_path_factory) -> AsyncIterator[Server]:
    """A server of this module's own, as it cordons ``local``; the engines go after it."""
    async with own_server(tmp_path_factory) as instance:
        yield instance


async def launch(client: httpx.AsyncClient, count: int) -> list[dict]:
    """``count`` sessions of the template launched at once (placement decides under
    lock, so racing launches still spread)."""
    responses = await asyncio.gather(
        *(client.post("/api/v1/sessions", json={"template": TEMPLATE}) for _ in range(count))
    )
    for response in responses:
        assert response.status_code == 201, response.text
    return [response.json() for response in responses]


async def containers_by_engine(engines: list[Engine]) -> dict[str, set[str]]:
    """The session ids of the workspace containers on each engine, asked of the engine."""
    found: dict[str, set[str]] = {}
    for engine in engines:
        listed = await engine.client.containers.list(
            all=True, filters={"label": ["moorage.session"]}
        )
        found[engine.name] = {c._container["Labels"]["moorage.session"] for c in listed}
    return found


def placed(sessions: list[dict]) -> dict[str, set[str]]:
    by_environment: dict[str, set[str]] = {name: set() for name in ENGINES}
    for session in sessions:
        by_environment.setdefault(session["environment"], set()).add(session["id"])
    return by_environment


async def environments(client: httpx.AsyncClient) -> list[dict]:
    """What the server says of each environment, for a failure's message: a status
    check that timed out (``unreachable``) takes an engine out of placement."""
    keys = ("name", "state", "status", "last_error", "used", "capacity_limit")
    rows = (await client.get("/api/v1/environments")).json()
    return [{key: row.get(key) for key in keys} for row in rows]


async def set_capacity(client: httpx.AsyncClient, name: str, **capacity: float | None) -> None:
    response = await client.patch(f"/api/v1/environments/{name}", json={"capacity": capacity})
    assert response.status_code == 200, response.text


async def test_sessions_spread_over_engines_skip_a_cordoned_one_and_stop_where_room_ends(
    placement_server, engines
):
    admin = await placement_server.login()
    try:
        await _scenario(admin, engines)
    finally:
        await admin.aclose()


async def _scenario(admin: httpx.AsyncClient, engines: list[Engine]) -> None:
    local = await admin.patch("/api/v1/environments/local", json={"state": "cordoned"})
    assert local.status_code == 200, local.text
    for engine in engines:
        added = await admin.post(
            "/api/v1/environments", json={"name": engine.name, "url": engine.url}
        )
        assert added.status_code == 201, added.text
        assert added.json()["status"] == "reachable", added.json()
        assert added.json()["kind"] == "socket"
    policy = await admin.patch(f"/api/v1/orgs/{DEFAULT_ORG}", json={"placement_policy": "spread"})
    assert policy.status_code == 200 and policy.json()["placement_policy"] == "spread"
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": TEMPLATE,
            "display_name": "Shell on an engine in a container",
            "image": IMAGE,
            "cpu_limit": CPU_CORES,
            "memory_limit_mb": MEMORY_MB,
            "max_sessions_per_user": 50,
        },
    )
    assert created.status_code == 201, created.text

    # Spread: 12 sessions on three equal engines, 4/4/4, each container where its
    # session says it is.
    first = await launch(admin, 12)
    spread = {name: len(ids) for name, ids in placed(first).items()}
    assert spread == dict.fromkeys(ENGINES, 4), await environments(admin)
    assert await containers_by_engine(engines) == placed(first)
    for row in (await admin.get("/api/v1/environments")).json():
        if row["name"] in ENGINES:
            assert row["used"]["sessions"] == 4, row
            assert row["used"]["memory_mb"] == 4 * MEMORY_MB, row

    # Cordoned: engine-c keeps its four and takes none of the next ones.
    cordoned = await admin.patch("/api/v1/environments/engine-c", json={"state": "cordoned"})
    assert cordoned.status_code == 200 and cordoned.json()["state"] == "cordoned"
    second = await launch(admin, 4)
    assert {s["environment"] for s in second} == {"engine-a", "engine-b"}, await environments(admin)
    assert await containers_by_engine(engines) == placed(first + second)
    counts = Counter(s["environment"] for s in first + second)
    assert counts == {"engine-a": 6, "engine-b": 6, "engine-c": 4}, await environments(admin)

    # Room: the operator gives engine-a and engine-b memory for two more each; the
    # ones after that are refused, naming the memory missing, and nothing is left.
    for name in ("engine-a", "engine-b"):
        await set_capacity(admin, name, memory_mb=(counts[name] + 2) * MEMORY_MB)
    third = await launch(admin, 4)
    filled = Counter(s["environment"] for s in third)
    assert filled == {"engine-a": 2, "engine-b": 2}, await environments(admin)
    everything = placed(first + second + third)
    refused = await admin.post("/api/v1/sessions", json={"template": TEMPLATE})
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "no_room"
    assert error["message"] == (
        f"no environment has {MEMORY_MB} MB of memory free for template {TEMPLATE}"
    )
    # Memory to spare but no CPU: the message names the cores instead.
    for name in ("engine-a", "engine-b"):
        await set_capacity(admin, name, cpu_cores=8 * CPU_CORES)
    short_of_cpu = await admin.post("/api/v1/sessions", json={"template": TEMPLATE})
    assert short_of_cpu.status_code == 503, short_of_cpu.text
    assert short_of_cpu.json()["error"] == {
        **short_of_cpu.json()["error"],
        "code": "no_room",
        "message": f"no environment has {CPU_CORES:g} CPU cores free for template {TEMPLATE}",
    }
    assert await containers_by_engine(engines) == everything
    live = (await admin.get("/api/v1/sessions?all=true&live=true")).json()
    assert len(live) == 20

    # Released: no workspace container is left on any engine (a release that met a slow
    # engine is ``releasing`` and the reconciler finishes it: give it a while).
    released = await release_all(admin)
    assert [r.status_code for r in released] == [200] * 20, [r.text for r in released]
    for _ in range(150):
        left = await containers_by_engine(engines)
        if left == {name: set() for name in ENGINES}:
            break
        await asyncio.sleep(0.2)
    assert left == {name: set() for name in ENGINES}
