"""Warm pool benchmark (issue 14): claim to usable, side by side with cold launches
and raw ``docker run``, in one run. Prints one JSON document.

Against a real ``moorage serve`` on SQLite and the local Docker engine, with
``--claims`` people (default 50) each launching ``debian-shell`` at once:

* ``warm``: the template keeps ``--claims`` warm workspaces; each person's time
  runs from the launch request to the first byte of its terminal (the shell's
  prompt through ``WS /api/v1/sessions/{id}/terminal``);
* ``cold``: the same with the pool emptied (every launch starts a container);
* ``docker_run``: the same number of ``docker run -i --rm moorage/terminal:latest
  sh -c 'echo ready; sleep 2'`` at once, to the first byte of their output (the CLI
  as a person would run it).

Targets: warm p50 ≤ 0.3 s, p95 ≤ 0.8 s. ``ratios``: cold / warm and docker_run /
warm at p50 and p95.

Usage: ``uv run python bench/warm_pool.py [--claims 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiodocker
import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import Server

IMAGE = "moorage/terminal:latest"
TEMPLATE = "debian-shell"
TARGET_P50, TARGET_P95 = 0.3, 0.8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 4)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "mean": round(statistics.fmean(values), 4),
        "max": round(max(values), 4),
    }


async def people(server: Server, admin: httpx.AsyncClient, count: int) -> list[str]:
    """``count`` members, each with an API token."""
    tokens = []
    for i in range(count):
        name, password = f"bench{i}", f"bench{i}-password-1"
        created = await admin.post(
            "/api/v1/users", json={"username": name, "password": password, "role": "member"}
        )
        assert created.status_code == 201, created.text
        client = await server.login(name, password)
        token = (await client.post("/api/v1/tokens", json={"name": "bench"})).json()["token"]
        await client.aclose()
        tokens.append(token)
    return tokens


async def launch_to_first_byte(server: Server, token: str) -> tuple[float, str]:
    """Seconds from the launch request to the terminal's first byte, and the session id."""
    async with server.client(token) as client:
        started = time.perf_counter()
        response = await client.post("/api/v1/sessions", json={"template": TEMPLATE})
        assert response.status_code == 201, response.text
        session = response.json()
        async with websockets.connect(
            session["urls"]["terminal"],
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=None,
            open_timeout=120,
        ) as ws:
            while not await asyncio.wait_for(ws.recv(), 60):
                pass
        return time.perf_counter() - started, session["id"]


async def docker_run_first_byte() -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        "docker",
        "run",
        "-i",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "echo ready; sleep 2",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    await process.stdout.read(1)
    elapsed = time.perf_counter() - started
    await process.wait()
    return elapsed


async def warm_status(admin: httpx.AsyncClient) -> dict[str, int]:
    status = (await admin.get("/api/v1/reconciler")).json()["warm"]["templates"]
    return status.get(TEMPLATE, {"warm": 0, "starting": 0})


async def wait_pool(admin: httpx.AsyncClient, warm: int, timeout_seconds: float = 600) -> float:
    started = time.perf_counter()
    while True:
        status = await warm_status(admin)
        if status.get("warm", 0) == warm and not status.get("starting"):
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout_seconds:
            raise RuntimeError(f"pool not at {warm} after {timeout_seconds} s: {status}")
        await asyncio.sleep(0.5)


async def end_all(admin: httpx.AsyncClient) -> None:
    rows = (await admin.get("/api/v1/sessions?all=true&live=true")).json()
    await asyncio.gather(*(admin.delete(f"/api/v1/sessions/{row['id']}") for row in rows))


async def remove_leftovers() -> None:
    """Remove the warm containers the stopped server left (those of its org only)."""
    async with aiodocker.Docker() as docker:
        for container in await docker.containers.list(
            all=True, filters={"label": ["moorage.warm"]}
        ):
            if container._container["Labels"].get("moorage.org") in ORGS:
                await container.delete(force=True)


ORGS: set[str] = set()


async def main(claims: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(
            Path(tmp),
            f"sqlite+aiosqlite:///{tmp}/moorage.db",
            extra_env={
                "MOORAGE_WARM_INTERVAL_SECONDS": "1",
                "MOORAGE_WARM_STARTS_AT_ONCE": "8",
                # 50 cold starts at once on a small machine: give Docker calls time.
                "MOORAGE_DOCKER_TIMEOUT_SECONDS": "120",
                "MOORAGE_LAUNCH_TIMEOUT_SECONDS": "180",
            },
        )
        server.start(timeout=300)
        admin = await server.login()
        try:
            limits = {"max_sessions_per_user": 5, "warm": claims}
            response = await admin.patch(f"/api/v1/templates/{TEMPLATE}", json=limits)
            assert response.status_code == 200, response.text
            tokens = await people(server, admin, claims)
            fill_seconds = await wait_pool(admin, claims)  # after the people were made
            async with aiodocker.Docker() as docker:
                for container in await docker.containers.list(filters={"label": ["moorage.warm"]}):
                    labels = container._container["Labels"]
                    if labels.get("moorage.template") == TEMPLATE:
                        ORGS.add(labels["moorage.org"])
            measured = await asyncio.gather(*(launch_to_first_byte(server, t) for t in tokens))
            warm = [seconds for seconds, _ in measured]
            print(json.dumps({"warm": summary(warm)}), file=sys.stderr, flush=True)
            claimed_ids = {session_id for _, session_id in measured}
            status = (await admin.get("/api/v1/reconciler")).json()["warm"]
            claimed = status["templates"][TEMPLATE]["claimed_last_day"]
            await end_all(admin)

            response = await admin.patch(f"/api/v1/templates/{TEMPLATE}", json={"warm": 0})
            assert response.status_code == 200, response.text
            await wait_pool(admin, 0)
            cold = [
                s
                for s, _ in await asyncio.gather(*(launch_to_first_byte(server, t) for t in tokens))
            ]
            await end_all(admin)

            raw = await asyncio.gather(*(docker_run_first_byte() for _ in range(claims)))
        finally:
            await end_all(admin)
            await admin.patch(f"/api/v1/templates/{TEMPLATE}", json={"warm": 0})
            await asyncio.sleep(3)
            await admin.aclose()
            server.stop()
            await remove_leftovers()
    warm_summary, cold_summary, raw_summary = summary(warm), summary(cold), summary(list(raw))
    return {
        "benchmark": "warm_pool",
        "template": TEMPLATE,
        "concurrent_claims": claims,
        "pool_wait_after_setup_seconds": round(fill_seconds, 2),
        "claimed_from_pool": claimed,
        "distinct_sessions": len(claimed_ids),
        "claim_to_first_terminal_byte_seconds": {
            "warm": warm_summary,
            "cold": cold_summary,
            "docker_run": raw_summary,
        },
        "ratios": {
            "cold_over_warm_p50": round(cold_summary["p50"] / warm_summary["p50"], 2),
            "cold_over_warm_p95": round(cold_summary["p95"] / warm_summary["p95"], 2),
            "docker_run_over_warm_p50": round(raw_summary["p50"] / warm_summary["p50"], 2),
            "docker_run_over_warm_p95": round(raw_summary["p95"] / warm_summary["p95"], 2),
        },
        "targets": {
            "warm_p50_seconds": TARGET_P50,
            "warm_p95_seconds": TARGET_P95,
            "met": warm_summary["p50"] <= TARGET_P50 and warm_summary["p95"] <= TARGET_P95,
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.claims)), indent=2))
