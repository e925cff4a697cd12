"""Sign-in flood benchmark (issue: trust boundary). Prints one JSON document.

Against a real ``moorage serve`` on SQLite: 100 concurrent sign-ins with a wrong
password (one account, one address, as a guessing script would send them),
while ``GET /api/v1/health`` is sampled every 20 ms. Every sign-in must be
answered 401 or 429 (never 500, never ``database is locked``); health latency
must stay under 100 ms at p95, since Argon2 runs in worker threads and failed
sign-ins neither write nor wait for the write lock. A correct sign-in after the
flood is refused (429) until an admin lifts the lock, then succeeds.

Usage: ``uv run python bench/signin_flood.py [--attempts 100]``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import ADMIN_PASSWORD, Server


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 2)


async def sample_health(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get("/api/v1/health")
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.02)
    return latencies


async def flood(server: Server, attempts: int) -> dict[str, object]:
    limits = httpx.Limits(max_connections=attempts + 10)
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits) as attacker,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as monitor,
    ):
        for _ in range(5):  # warm up
            await monitor.get("/api/v1/health")
        admin = await server.login()
        token = (await admin.post("/api/v1/tokens", json={"name": "bench"})).json()["token"]
        await admin.aclose()
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_health(monitor, stop))
        await asyncio.sleep(0.5)
        bad = {"username": "admin", "password": "not-the-password"}
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(attacker.post("/api/v1/auth/login", json=bad) for _ in range(attempts)),
            return_exceptions=True,
        )
        flood_seconds = time.perf_counter() - started
        await asyncio.sleep(0.5)
        stop.set()
        latencies = await sampler
        statuses = collections.Counter(
            str(a.status_code) if isinstance(a, httpx.Response) else type(a).__name__
            for a in answers
        )
        good = {"username": "admin", "password": ADMIN_PASSWORD}
        locked = await attacker.post("/api/v1/auth/login", json=good)
        async with server.client(token) as admin:
            unlocked = await admin.delete("/api/v1/users/admin/sign-in-lock")
        after_unlock = await attacker.post("/api/v1/auth/login", json=good)
        return {
            "attempts": attempts,
            "statuses": dict(sorted(statuses.items())),
            "flood_seconds": round(flood_seconds, 2),
            "retry_after_seconds": locked.headers.get("retry-after"),
            "correct_password_while_locked": locked.status_code,
            "admin_unlock": unlocked.status_code,
            "correct_password_after_unlock_same_address": after_unlock.status_code,
            "health": {
                "n": len(latencies),
                "p50_ms": pct(latencies, 50),
                "p95_ms": pct(latencies, 95),
                "max_ms": round(max(latencies), 2),
            },
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        server = Server(
            data_dir=data_dir,
            database_url=f"sqlite+aiosqlite:///{data_dir / 'moorage.db'}",
            extra_env={"MOORAGE_RUN_RECONCILER": "false"},
        )
        server.start()
        try:
            result = asyncio.run(flood(server, args.attempts))
        finally:
            server.stop()
        log = server.log_path.read_text() if server.log_path else ""
        result["server_errors_logged"] = log.count("Traceback") + log.count("database is locked")
        ok = set(result["statuses"]) <= {"401", "429"}  # type: ignore[arg-type]
        result["ok"] = ok and result["health"]["p95_ms"] < 100  # type: ignore[index]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
