"""Session benchmarks (issue: workspace sessions on Docker). Prints one JSON document.

Measured in one run, against a real ``moorage serve`` on SQLite and the local
Docker engine:

* ``launch``: 20 sequential launches of ``debian-shell`` through the API
  (request to 201, when the container answers an exec), against the
  reference ``docker run -d`` of the same image followed by the first
  successful ``docker exec`` (the CLI, as a person would run it) and the same
  steps through the Docker API (aiodocker, no CLI start-up cost);
* ``concurrent``: 50 launches at once by one user on a template allowing 40:
  each must succeed or get a clean 429;
* ``expiry``: lateness (``released_at - expires_at``) over 50 sessions of 10 s, and
  (``expiry_same_instant``) over 50 sessions whose deadlines all fall at one instant;
* ``memory``: server RSS idle (target 100 MB) and with 50 live sessions (120 MB).

Usage: ``uv run python bench/sessions.py [--launches 20] [--concurrent 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiodocker
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import Server

IMAGE = "moorage/terminal:latest"


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


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def docker_cli_reference() -> float:
    """``docker run -d`` then ``docker exec … true`` until it succeeds; seconds."""
    started = time.perf_counter()
    container = subprocess.run(
        ["docker", "run", "-d", "--rm", IMAGE], check=True, capture_output=True, text=True
    ).stdout.strip()
    while (
        subprocess.run(
            ["docker", "exec", "-u", "user", container, "true"], capture_output=True
        ).returncode
        != 0
    ):
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    subprocess.run(["docker", "rm", "-f", container], check=True, capture_output=True)
    return elapsed


async def docker_api_reference(docker: aiodocker.Docker) -> float:
    """The same steps through the Docker API; seconds."""
    started = time.perf_counter()
    container = await docker.containers.run({"Image": IMAGE, "HostConfig": {"Init": True}})
    while True:
        exec_ = await container.exec(["true"], user="user", stdout=False, stderr=False)
        await exec_.start(detach=True)
        if (await exec_.inspect()).get("ExitCode") == 0:
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await container.delete(force=True)
    return elapsed


async def launch_latency(client: httpx.AsyncClient, n: int) -> dict[str, object]:
    moorage, cli, api = [], [], []
    async with aiodocker.Docker() as docker:
        for _ in range(2):  # warm both paths
            await docker_api_reference(docker)
            session = (await client.post("/api/v1/sessions", json={"template": "bench"})).json()
            await client.delete(f"/api/v1/sessions/{session['id']}")
        for _ in range(n):
            started = time.perf_counter()
            response = await client.post("/api/v1/sessions", json={"template": "bench"})
            moorage.append(time.perf_counter() - started)
            assert response.status_code == 201, response.text
            await client.delete(f"/api/v1/sessions/{response.json()['id']}")
            cli.append(await asyncio.to_thread(docker_cli_reference))
            api.append(await docker_api_reference(docker))
    result = {
        "moorage_s": summary(moorage),
        "docker_cli_s": summary(cli),
        "docker_api_s": summary(api),
    }
    result["ratio_p50_vs_cli"] = round(pct(moorage, 50) / pct(cli, 50), 3)
    result["ratio_p95_vs_cli"] = round(pct(moorage, 95) / pct(cli, 95), 3)
    result["ratio_p50_vs_api"] = round(pct(moorage, 50) / pct(api, 50), 3)
    return result


async def concurrent_launches(client: httpx.AsyncClient, n: int) -> dict[str, object]:
    async def one() -> tuple[int, float, str]:
        started = time.perf_counter()
        response = await client.post("/api/v1/sessions", json={"template": "bench"})
        code = (
            response.json().get("error", {}).get("code", "") if response.status_code != 201 else ""
        )
        return response.status_code, time.perf_counter() - started, code

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(n)))
    wall = time.perf_counter() - started
    ok = [t for status, t, _ in results if status == 201]
    refused = [t for status, t, code in results if status == 429 and code == "quota_exceeded"]
    other = [(status, code) for status, _, code in results if status not in (201, 429)]
    return {
        "launched": len(ok),
        "refused_429": len(refused),
        "other_errors": other,
        "wall_s": round(wall, 3),
        "success_s": summary(ok) if ok else None,
        "refusal_s": summary(refused) if refused else None,
    }


async def end_all(client: httpx.AsyncClient) -> None:
    rows = (await client.get("/api/v1/sessions?live=true")).json()
    await asyncio.gather(*(client.delete(f"/api/v1/sessions/{r['id']}") for r in rows))


def set_deadlines(db_path: Path, ids: list[str], at: datetime) -> None:
    """Move the deadlines of sessions ``ids`` to the instant ``at`` (UTC) in the SQLite
    database; the reconciler's next pass (every 5 s here) reschedules them."""
    with sqlite3.connect(db_path, timeout=30) as db:
        stamp = at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        db.executemany("UPDATE sessions SET expires_at = ? WHERE id = ?", [(stamp, i) for i in ids])


async def expiry_lateness(
    client: httpx.AsyncClient, n: int, *, same_instant_db: Path | None = None
) -> dict[str, object]:
    """Lateness of ``n`` sessions of 10 s launched in batches of 10 (their deadlines
    spread over the launch time); with ``same_instant_db``, sessions of 2 minutes whose
    deadlines are then all moved to one instant 12 s ahead, the harshest case."""
    template = "bench-expiry-instant" if same_instant_db else "bench-expiry"
    created = await client.post(
        "/api/v1/templates",
        json={
            "name": template,
            "display_name": "Bench expiry",
            "image": IMAGE,
            "max_sessions_per_user": n,
            "cpu_limit": 0.5,
            "memory_limit_mb": 128,
        },
    )
    assert created.status_code == 201, created.text
    ids = []
    for batch in range(0, n, 10):
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/sessions",
                    json={
                        "template": template,
                        "duration_seconds": 120 if same_instant_db else 10,
                    },
                )
                for _ in range(min(10, n - batch))
            )
        )
        ids += [r.json()["id"] for r in responses if r.status_code == 201]
    if same_instant_db is not None:
        set_deadlines(same_instant_db, ids, datetime.now(UTC) + timedelta(seconds=12))
    deadline = time.monotonic() + 90
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = [(await client.get(f"/api/v1/sessions/{i}")).json() for i in ids]
        if all(r["state"] == "released" for r in rows):
            break
        await asyncio.sleep(0.5)
    lateness = [
        (parse(r["released_at"]) - parse(r["expires_at"])).total_seconds()
        for r in rows
        if r["state"] == "released"
    ]
    return {
        "sessions": len(ids),
        "released": len(lateness),
        "lateness_s": {
            "p50": pct(lateness, 50),
            "p99": pct(lateness, 99),
            "max": round(max(lateness), 4),
        },
        "target_p99_s": 2.0,
        "deadlines": "one instant" if same_instant_db else "spread over the launches",
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--expiring", type=int, default=50)
    parser.add_argument(
        "--only",
        choices=["memory-expiry"],
        help="memory-expiry: skip the launch latency comparisons (memory and expiry only)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(
            Path(tmp),
            f"sqlite+aiosqlite:///{tmp}/moorage.db",
            extra_env={"MOORAGE_RECONCILE_INTERVAL_SECONDS": "5"},
        )
        server.start(timeout=180)
        try:
            client = await server.login()
            client.timeout = httpx.Timeout(120)
            created = await client.post(
                "/api/v1/templates",
                json={
                    "name": "bench",
                    "display_name": "Bench",
                    "image": IMAGE,
                    "max_sessions_per_user": 40,
                    "cpu_limit": 0.5,
                    "memory_limit_mb": 128,
                },
            )
            assert created.status_code == 201, created.text
            await asyncio.sleep(1)
            result: dict[str, object] = {"benchmark": "sessions", "database": "sqlite"}
            result["memory_idle_mb"] = rss_mb(server.pid)
            if args.only is None:
                result["launch"] = await launch_latency(client, args.launches)
            result["concurrent"] = await concurrent_launches(client, args.concurrent)
            # Fill up to 50 live sessions for the memory figure (the template allows 40
            # per user, so a second user holds the rest).
            live = result["concurrent"]["launched"]
            await client.post(
                "/api/v1/users", json={"username": "bench2", "password": "bench2-password"}
            )
            other = await server.login("bench2", "bench2-password")
            other.timeout = httpx.Timeout(120)
            extra = await asyncio.gather(
                *(
                    other.post("/api/v1/sessions", json={"template": "bench"})
                    for _ in range(max(0, 50 - live))
                )
            )
            live += sum(r.status_code == 201 for r in extra)
            await asyncio.sleep(2)
            result["memory_with_sessions_mb"] = {
                "live_sessions": live,
                "rss_mb": rss_mb(server.pid),
                "target_mb": 120,
            }
            await end_all(client)
            await end_all(other)
            await other.aclose()
            result["expiry"] = await expiry_lateness(client, args.expiring)
            await end_all(client)
            result["expiry_same_instant"] = await expiry_lateness(
                client, args.expiring, same_instant_db=Path(tmp) / "moorage.db"
            )
            await end_all(client)
            await client.aclose()
        finally:
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
