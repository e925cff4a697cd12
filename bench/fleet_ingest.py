"""Fleet ingest benchmark (issue: fleet monitoring). Prints JSON.

Many simulated agents post reports concurrently to ``POST /api/v1/agents/report``
of a real ``moorage serve``, on SQLite and on PostgreSQL; the result is the
sustained reports per second with no error over ``--seconds``. In the same run
the seed's design is measured as the reference: a server that keeps the fleet in
one JSON state file and rewrites it on every report (DashFleet's
``logs/fleet_state.json``), on the same HTTP stack (uvicorn, Starlette) and the
same load.

The load comes from wrk (Debian's package) with a Lua script that rotates the
agents' credentials and bodies, ``--connections`` connections on ``--threads``
threads, on this machine: it shares the 2 cores with the server.

Usage: ``uv run python bench/fleet_ingest.py [--agents 2000] [--seconds 20]``
(PostgreSQL from ``MOORAGE_BENCH_POSTGRES``, default
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import Server, free_port

POSTGRES = os.environ.get(
    "MOORAGE_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def report(hostname: str) -> dict:
    return {
        "agent_version": "1",
        "collected_at": datetime.now(UTC).isoformat(),
        "hostname": hostname,
        "os": "Linux 6.1 (Debian GNU/Linux 12 (bookworm))",
        "uptime_seconds": 12345.0,
        "allow_actions": False,
        "metrics": {
            "cpu_percent": 12.5,
            "load1": 0.4,
            "memory_percent": 43.0,
            "swap_percent": 0.0,
            "disk_read_bps": 1024.0,
            "disk_write_bps": 2048.0,
            "net_rx_bps": 5000.0,
            "net_tx_bps": 3000.0,
            "processes": 150,
            "containers_running": 2,
            "containers_total": 3,
        },
        "disks": [{"mount": "/", "percent": 52.0, "used_bytes": 10**10, "total_bytes": 2 * 10**10}],
    }


# -- load generator -------------------------------------------------------------------

LUA = """
-- Each request is one agent's report: credential and body rotate over the agents.
local agents = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local credential, body = line:match("^(%S+) (.*)$")
    agents[#agents + 1] = {credential, body}
  end
  i = math.random(#agents)
end
request = function()
  i = i % #agents + 1
  local agent = agents[i]
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. agent[1],
                                  ["Content-Type"] = "application/json"}, agent[2])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d %.3f %.3f\\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration, latency:percentile(50), latency:percentile(99), 0, 0))
end
"""


def load(
    url: str,
    agents: list[tuple[str, bytes]],
    *,
    threads: int,
    connections: int,
    seconds: float,
    folder: Path,
) -> dict:
    """Run wrk (C, a few percent of a core at this rate) against ``url`` for ``seconds``."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make test installs it)")
    script, data = folder / "report.lua", folder / "agents.txt"
    script.write_text(LUA)
    data.write_text("".join(f"{c} {b.decode()}\n" for c, b in agents))
    output = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{round(seconds)}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(data),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    requests, socket_errors, status_errors, duration_us, p50, p99 = (
        int(v) for v in line.split()[1:7]
    )
    seconds_run = duration_us / 1e6
    ok = requests - status_errors
    return {
        "reports": ok,
        "errors": socket_errors + status_errors,
        "seconds": round(seconds_run, 2),
        "reports_per_second": round(ok / seconds_run, 1),
        "latency_p50_ms": round(p50 / 1000, 2),
        "latency_p99_ms": round(p99 / 1000, 2),
    }


# -- Moorage ----------------------------------------------------------------------------


async def enroll_all(base_url: str, count: int) -> list[tuple[str, bytes]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "bench-admin-password"}
        )
        token = (
            await client.post(
                "/api/v1/enrollment-tokens", json={"max_uses": count, "ttl_seconds": 3600}
            )
        ).json()["token"]
        limit = asyncio.Semaphore(32)

        async def one(i: int) -> tuple[str, bytes]:
            async with limit:
                answer = await client.post(
                    "/api/v1/agents/enroll", json={"token": token, "hostname": f"bench-{i}"}
                )
                assert answer.status_code == 201, answer.text
            body = json.dumps(report(f"bench-{i}")).encode()
            return answer.json()["credential"], body

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def fresh_postgres() -> tuple[str, str]:
    url = make_url(POSTGRES)
    name = f"moorage_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"CREATE DATABASE {name}"))
    await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


async def drop_postgres(name: str) -> None:
    admin = create_async_engine(make_url(POSTGRES), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    await admin.dispose()


def moorage(database_url: str, folder: Path, args: argparse.Namespace, workers: int) -> dict:
    server = Server(
        folder,
        database_url,
        extra_env={
            "MOORAGE_ADMIN_PASSWORD": "bench-admin-password",
            "MOORAGE_WORKERS": str(workers),
        },
    )
    server.start(timeout=60)
    try:
        agents = asyncio.run(enroll_all(server.base_url, args.agents))
        url = f"{server.base_url}/api/v1/agents/report"
        # Warm up until every agent has reported about once (the hub's credential cache is
        # then warm, as it is a few seconds after start with agents at a 10 s interval).
        load(
            url,
            agents,
            threads=args.threads,
            connections=args.connections,
            seconds=3 + args.agents / 1000,
            folder=folder,
        )
        result = load(
            url,
            agents,
            threads=args.threads,
            connections=args.connections,
            seconds=args.seconds,
            folder=folder,
        )
        time.sleep(1.5)  # let the last batch land
        return {**result, "workers": workers}
    finally:
        server.stop()


# -- the seed's design: one JSON state file rewritten per report -------------------------


def reference_server(port: int, state_file: str) -> None:
    """DashFleet's hub: check the shared token, load ``fleet_state.json``, set the
    machine's entry, write the whole file back (best-effort, no database)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    path = Path(state_file)
    token = "seed-fleet-token"

    async def report_endpoint(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        data = await request.json()
        # Blocking file I/O on purpose: the seed's Flask handler does the same.
        try:
            state = json.loads(path.read_text())  # noqa: ASYNC240
        except (FileNotFoundError, ValueError):
            state = {}
        state[data["hostname"]] = {"report": data, "ts": time.time()}
        path.write_text(json.dumps(state))  # noqa: ASYNC240
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/api/fleet/report", report_endpoint, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def reference(folder: Path, args: argparse.Namespace) -> dict:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--reference-server",
            str(port),
            str(folder / "fleet_state.json"),
        ]
    )
    try:
        for _ in range(100):
            try:
                httpx.post(f"http://127.0.0.1:{port}/api/fleet/report", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        agents = [
            ("seed-fleet-token", json.dumps(report(f"bench-{i}")).encode())
            for i in range(args.agents)
        ]
        url = f"http://127.0.0.1:{port}/api/fleet/report"
        load(
            url,
            agents,
            threads=args.threads,
            connections=args.connections,
            seconds=3,
            folder=folder,
        )
        return load(
            url,
            agents,
            threads=args.threads,
            connections=args.connections,
            seconds=args.seconds,
            folder=folder,
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--only", choices=["sqlite", "postgresql", "reference"], action="append")
    parser.add_argument("--reference-server", nargs=2, metavar=("PORT", "STATE_FILE"))
    args = parser.parse_args()
    if args.reference_server:
        reference_server(int(args.reference_server[0]), args.reference_server[1])
        return
    results: dict[str, object] = {
        "agents": args.agents,
        "seconds": args.seconds,
        "wrk_threads": args.threads,
        "connections": args.connections,
    }
    runs = set(args.only or ["sqlite", "postgresql", "reference"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "sqlite" in runs:
            (folder / "sqlite").mkdir()
            results["sqlite"] = moorage(
                f"sqlite+aiosqlite:///{folder / 'sqlite' / 'moorage.db'}",
                folder / "sqlite",
                args,
                1,
            )
        if "postgresql" in runs:
            url, name = asyncio.run(fresh_postgres())
            (folder / "pg").mkdir()
            try:
                results["postgresql"] = moorage(url, folder / "pg", args, args.workers)
            finally:
                asyncio.run(drop_postgres(name))
        if "reference" in runs:
            results["reference_json_state_file"] = reference(folder, args)
    if {"postgresql", "reference"} <= runs:
        pg = results["postgresql"]["reports_per_second"]  # type: ignore[index]
        ref = results["reference_json_state_file"]["reports_per_second"]  # type: ignore[index]
        results["postgresql_vs_reference"] = round(pg / ref, 2) if ref else None
    results["target_postgresql_reports_per_second"] = 2000
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
