"""Reservation benchmarks (issue: machine pool and reservations). Prints one JSON document.

Against a real ``moorage serve`` (SQLite) and real sshd machines
(``moorage/sshd`` containers published on 127.0.0.1), in one run:

* ``reserve_release``: one reservation of 10 machines, then its release, wall
  time; the reference is 10 sequential ``ssh root@machine useradd -m NAME``
  calls to the same machines with the OpenSSH client (password login);
* ``reclaim_lateness``: 20 reservations of 10 s (two waves of 10), lateness of
  their reclaim (``released_at - expires_at``), p50 and p99.

Usage: ``uv run python bench/reservations.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiodocker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.pool_machines import (
    ROOT_PASSWORD,
    remove_machines,
    ssh_login,
    start_machines,
)
from tests.live_server import Server

MACHINES = 10


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 4)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def wait_online(client, count: int) -> None:
    for _ in range(300):
        machines = (await client.get("/api/v1/machines")).json()
        if sum(m["status"] == "online" for m in machines) == count:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("machines did not come online")


def reference(machines, name: str) -> float:
    """10 sequential ssh … useradd calls; seconds."""
    started = time.perf_counter()
    for machine in machines:
        code, output = ssh_login(machine.port, "root", ROOT_PASSWORD, f"useradd -m {name}")
        if code != 0:
            raise RuntimeError(output)
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    async with aiodocker.Docker() as docker:
        machines = await start_machines(docker, MACHINES, "bench")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                server = Server(
                    Path(tmp),
                    f"sqlite+aiosqlite:///{tmp}/moorage.db",
                    extra_env={"MOORAGE_PROBE_INTERVAL_SECONDS": "5"},
                )
                server.start()
                try:
                    result = await run(server, machines, args.rounds)
                finally:
                    server.stop()
        finally:
            await remove_machines(machines)
    print(json.dumps(result, indent=2))


async def run(server: Server, machines, rounds: int) -> dict[str, object]:
    client = await server.login()
    client.timeout = 120
    text = "\n".join(m.line() for m in machines)
    assert (await client.post("/api/v1/machines/import", content=text)).status_code == 201
    await client.patch("/api/v1/pools/default", json={"max_machines_per_user": 100})
    await wait_online(client, len(machines))

    reserve_s, release_s, total_s, reference_s = [], [], [], []
    for round_ in range(rounds):
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/reservations", json={"count": MACHINES, "username": f"bench-{round_}"}
        )
        reserved = time.perf_counter()
        assert response.status_code == 201, response.text
        released = await client.delete(f"/api/v1/reservations/{response.json()['id']}")
        done = time.perf_counter()
        assert released.json()["state"] == "released"
        reserve_s.append(reserved - started)
        release_s.append(done - reserved)
        total_s.append(done - started)
        reference_s.append(await asyncio.to_thread(reference, machines, f"ref-{round_}"))
        for machine in machines:
            await machine.run("userdel", "-r", f"ref-{round_}")

    lateness = []
    for wave in range(2):
        responses = await asyncio.gather(
            *(
                client.post("/api/v1/reservations", json={"count": 1, "duration_seconds": 10})
                for _ in range(MACHINES)
            )
        )
        ids = [r.json()["id"] for r in responses if r.status_code == 201]
        assert len(ids) == MACHINES, [r.text for r in responses if r.status_code != 201]
        rows = []
        for _ in range(300):
            rows = [(await client.get(f"/api/v1/reservations/{i}")).json() for i in ids]
            if all(r["state"] == "released" for r in rows):
                break
            await asyncio.sleep(0.2)
        lateness += [
            (parse(r["released_at"]) - parse(r["expires_at"])).total_seconds()
            for r in rows
            if r["state"] == "released"
        ]
        del wave
    await client.aclose()
    median = statistics.median
    return {
        "benchmark": "reservations",
        "machines": MACHINES,
        "rounds": rounds,
        "reserve_s": [round(x, 3) for x in reserve_s],
        "release_s": [round(x, 3) for x in release_s],
        "reserve_plus_release_median_s": round(median(total_s), 3),
        "reference_sequential_ssh_useradd_s": [round(x, 3) for x in reference_s],
        "reference_median_s": round(median(reference_s), 3),
        "ratio_reserve_vs_reference": round(median(reserve_s) / median(reference_s), 3),
        "ratio_reserve_plus_release_vs_reference": round(median(total_s) / median(reference_s), 3),
        "reclaim_lateness_s": {
            "n": len(lateness),
            "p50": pct(lateness, 50),
            "p99": pct(lateness, 99),
            "max": round(max(lateness), 3),
            "target_p99_s": 5.0,
        },
    }


if __name__ == "__main__":
    asyncio.run(main())
