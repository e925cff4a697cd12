"""Workshop benchmark (issue 14): a class arriving at once. Prints one JSON document.

Against a real ``moorage serve`` on SQLite and the local Docker engine, with the
``debian-shell`` template:

1. an instructor creates an anonymous workshop for ``--participants`` people (default
   100) that starts now; its prewarm (``prewarm_share``, default 0.7) raises the
   template's warm pool at once, and the run waits for the pool to fill
   (``prewarm_fill_seconds``);
2. every participant joins at the same moment (``POST /api/v1/workshops/join`` with
   a display name: a temporary user, signed in by the answer's cookie) and opens
   their terminal; ``join_to_usable_seconds`` runs from the join request to the
   terminal's first byte (its shell prompt through
   ``WS /api/v1/sessions/{id}/terminal``); ``all_joined_seconds`` until the last one;
3. the instructor broadcasts a command to every terminal (``POST …/broadcast``), timed
   to the answer with every per-session result (null with the reason when the exec
   broadcast service is not in this build);
4. the instructor ends the workshop; the run counts, a few seconds on, the containers
   of the server's org left on Docker and the temporary users left (both must be 0).

Targets: all joined within 60 s, join to usable p95 ≤ 2 s, broadcast ≤ 10 s, 0 left.

Usage: ``uv run python bench/workshop.py [--participants 100] [--prewarm-share 0.7]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
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

TEMPLATE = "debian-shell"
TARGET_ALL_JOINED, TARGET_P95, TARGET_BROADCAST = 60.0, 2.0, 10.0


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


async def join_to_first_byte(server: Server, code: str, number: int) -> tuple[float, str]:
    """Seconds from the join request to the terminal's first byte, and the session id;
    a failure is ``(-1.0, "<what failed>")`` (counted apart, never in the timings)."""
    try:
        return await _join_to_first_byte(server, code, number)
    except Exception as exc:  # a bench reports failures, it does not stop
        return -1.0, f"{type(exc).__name__}: {exc}"[:200]


async def _join_to_first_byte(server: Server, code: str, number: int) -> tuple[float, str]:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Origin": server.base_url}, timeout=180
    ) as client:
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/workshops/join", json={"code": code, "display_name": f"participant {number}"}
        )
        assert response.status_code == 200, response.text
        session_id = response.json()["session_id"]
        url = f"ws://127.0.0.1:{server.port}/api/v1/sessions/{session_id}/terminal"
        cookie = f"moorage_login={client.cookies['moorage_login']}"
        async with websockets.connect(
            url,
            additional_headers={"Cookie": cookie, "Origin": server.base_url},
            max_size=None,
            open_timeout=120,
        ) as ws:
            while not await asyncio.wait_for(ws.recv(), 60):
                pass
        return time.perf_counter() - started, session_id


async def warm_count(admin: httpx.AsyncClient) -> dict[str, int]:
    status = (await admin.get("/api/v1/reconciler")).json()["warm"]["templates"]
    return status.get(TEMPLATE, {"warm": 0, "starting": 0, "target": 0})


async def wait_pool(admin: httpx.AsyncClient, warm: int, timeout_seconds: float = 900) -> float:
    started = time.perf_counter()
    while True:
        status = await warm_count(admin)
        if status.get("warm", 0) >= warm and not status.get("starting"):
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout_seconds:
            raise RuntimeError(f"pool not at {warm} after {timeout_seconds} s: {status}")
        await asyncio.sleep(0.5)


async def containers_of(org_id: str) -> int:
    async with aiodocker.Docker() as docker:
        found = await docker.containers.list(all=True, filters={"label": [f"moorage.org={org_id}"]})
        return len(found)


async def main(participants: int, share: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(
            Path(tmp),
            f"sqlite+aiosqlite:///{tmp}/moorage.db",
            extra_env={
                "MOORAGE_WARM_INTERVAL_SECONDS": "1",
                "MOORAGE_WARM_STARTS_AT_ONCE": "8",
                "MOORAGE_DOCKER_TIMEOUT_SECONDS": "120",
                "MOORAGE_LAUNCH_TIMEOUT_SECONDS": "180",
            },
        )
        server.start(timeout=300)
        admin = await server.login()
        with sqlite3.connect(f"{tmp}/moorage.db") as db:  # this server's one org
            (org_id,) = db.execute("SELECT id FROM orgs").fetchone()
        broadcast: dict[str, object] = {}
        try:
            made = await admin.post(
                "/api/v1/users",
                json={"username": "teacher", "password": "teacher-password", "role": "instructor"},
            )
            assert made.status_code == 201, made.text
            teacher = await server.login("teacher", "teacher-password")
            created = await teacher.post(
                "/api/v1/workshops",
                json={
                    "title": "Bench class",
                    "template": TEMPLATE,
                    "capacity": participants,
                    "anonymous": True,
                    "duration_minutes": 60,
                    "prewarm_share": share,
                },
            )
            assert created.status_code == 201, created.text
            workshop = created.json()
            prewarmed = -(-int(participants * share * 1000) // 1000)
            fill_seconds = await wait_pool(admin, prewarmed)

            started = time.perf_counter()
            measured = await asyncio.gather(
                *(join_to_first_byte(server, workshop["join_code"], i) for i in range(participants))
            )
            all_joined = time.perf_counter() - started
            joins = [seconds for seconds, _ in measured if seconds >= 0]
            failures = [what for seconds, what in measured if seconds < 0]
            print(json.dumps({"join": summary(joins), "failures": failures[:5]}), file=sys.stderr)
            sessions = {session_id for seconds, session_id in measured if seconds >= 0}

            started = time.perf_counter()
            answer = await teacher.post(
                f"/api/v1/workshops/{workshop['id']}/broadcast",
                json={"command": "echo hello-from-the-instructor"},
                timeout=300,
            )
            broadcast_seconds = time.perf_counter() - started
            if answer.status_code == 200:
                results = answer.json()
                broadcast = {
                    "seconds": round(broadcast_seconds, 3),
                    "sessions": len(results),
                    "succeeded": sum(1 for r in results if r["exit_code"] == 0),
                }
            else:
                broadcast = {"seconds": None, "reason": answer.json()["error"]["message"]}

            ended = await teacher.post(f"/api/v1/workshops/{workshop['id']}/end", timeout=300)
            assert ended.status_code == 200, ended.text
            end_seconds = ended.elapsed.total_seconds()
            await admin.patch(f"/api/v1/templates/{TEMPLATE}", json={"warm": 0})
            left_containers = await containers_of(org_id)
            for _ in range(60):  # the keeper recycles the pool's surplus within seconds
                left_containers = await containers_of(org_id)
                if not left_containers:
                    break
                await asyncio.sleep(1)
            users = (await admin.get("/api/v1/users")).json()
            left_guests = sum(1 for u in users if u["username"].startswith("guest-"))
            await teacher.aclose()
        finally:
            await admin.aclose()
            server.stop()
            if server.log_path is not None:  # kept for a look at what went wrong
                shutil.copy(server.log_path, Path(tempfile.gettempdir()) / "workshop-bench.log")
            async with aiodocker.Docker() as docker:  # never leave this run's containers
                for container in await docker.containers.list(
                    all=True, filters={"label": [f"moorage.org={org_id}"]}
                ):
                    await container.delete(force=True)
    join_summary = summary(joins)
    return {
        "benchmark": "workshop",
        "template": TEMPLATE,
        "participants": participants,
        "prewarm_share": share,
        "prewarmed": prewarmed,
        "prewarm_fill_seconds": round(fill_seconds, 2),
        "distinct_sessions": len(sessions),
        "failed_joins": len(failures),
        "all_joined_seconds": round(all_joined, 2),
        "join_to_usable_seconds": join_summary,
        "broadcast_command": broadcast,
        "end_seconds": round(end_seconds, 2),
        "left_after_end": {"containers": left_containers, "temporary_users": left_guests},
        "targets": {
            "all_joined_seconds": TARGET_ALL_JOINED,
            "join_to_usable_p95_seconds": TARGET_P95,
            "broadcast_seconds": TARGET_BROADCAST,
            "met": not failures
            and all_joined <= TARGET_ALL_JOINED
            and join_summary["p95"] <= TARGET_P95
            and (broadcast.get("seconds") or 0) <= TARGET_BROADCAST
            and left_containers == 0
            and left_guests == 0,
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--prewarm-share", type=float, default=0.7)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.participants, args.prewarm_share)), indent=2))
