"""Recording benchmark (issue: recording): the CPU the gateway spends on a terminal
printing 1 MB/s, with and without recording it. Prints one JSON document.

A real ``moorage serve`` and a real ``moorage/terminal`` workspace: the shell runs a
paced generator (``python3`` in the workspace: 15,625 bytes of text every 1/64 s,
1,000,000 B/s) and a websocket client reads the terminal through the gateway. For
each run the server process's CPU time (user + system, ``psutil``) is measured
over ``--seconds`` after a warm-up, for a template without recording and one with
it (asciicast v2 with input), alternating; the figures are medians.

* ``cpu_percent``: the server's CPU over the window, % of one core;
* ``received_bytes_per_second``: what the client got (the TTY adds ``\\r`` to each line);
* ``cpu_ms_per_mb``: the server's CPU milliseconds per megabyte received;
* ``overhead_percent``: (recorded − plain) / plain × 100 of ``cpu_percent``, the
  target being ≤ 5; ``overhead_percent_per_mb`` the same of ``cpu_ms_per_mb``;
  ``overhead_cpu_points``: the difference in % of one core.

Usage: ``uv run python bench/recording.py [--runs 3] [--seconds 10]``
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

import psutil
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import Server

GENERATOR = (
    'python3 -c "import sys,time\n'
    "line=('x'*79+chr(10))\n"
    "chunk=(line*200)[:15625]\n"
    "t=time.monotonic()\n"
    "while True:\n"
    " sys.stdout.write(chunk); sys.stdout.flush(); t+=1/64\n"
    ' time.sleep(max(0,t-time.monotonic()))"\n'
)


async def one_run(server: Server, client, token: str, template: str, seconds: float) -> dict:
    session = (await client.post("/api/v1/sessions", json={"template": template})).json()
    url = session["urls"]["terminal"] + "?cols=80&rows=24"
    process = psutil.Process(server.pid)
    received = 0
    try:
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None
        ) as ws:
            await ws.send(GENERATOR.encode())

            async def drain(until: float) -> int:
                count = 0
                while time.monotonic() < until:
                    try:
                        frame = await asyncio.wait_for(ws.recv(), until - time.monotonic())
                    except TimeoutError:
                        break
                    count += len(frame)
                return count

            await drain(time.monotonic() + 2)  # warm-up: the generator starts
            before = process.cpu_times()
            started = time.monotonic()
            received = await drain(started + seconds)
            wall = time.monotonic() - started
            after = process.cpu_times()
            await ws.send(b"\x03")
    finally:
        await client.delete(f"/api/v1/sessions/{session['id']}")
    cpu = (after.user - before.user) + (after.system - before.system)
    return {
        "cpu_percent": round(cpu / wall * 100, 2),
        "received_bytes_per_second": round(received / wall),
        "cpu_ms_per_mb": round(cpu * 1000 / (received / 1e6), 2) if received else None,
    }


async def main(runs: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as data:
        server = Server(Path(data), f"sqlite+aiosqlite:///{data}/moorage.db")
        try:
            server.start(timeout=120)
            client = await server.login()
            token = (await client.post("/api/v1/tokens", json={"name": "bench"})).json()["token"]
            for name, recording in (("bench-plain", False), ("bench-recorded", True)):
                created = await client.post(
                    "/api/v1/templates",
                    json={
                        "name": name,
                        "display_name": name,
                        "image": "moorage/terminal:latest",
                        "recording": recording,
                        "record_input": recording,
                        "max_sessions_per_user": 1,
                    },
                )
                assert created.status_code == 201, created.text
            results: dict[str, list[dict]] = {"plain": [], "recorded": []}
            for _ in range(runs):
                for mode, template in (("plain", "bench-plain"), ("recorded", "bench-recorded")):
                    results[mode].append(await one_run(server, client, token, template, seconds))
            recordings = (await client.get("/api/v1/recordings?all=true")).json()
            await client.aclose()
        finally:
            server.stop()

    def median(mode: str, key: str) -> float:
        return round(statistics.median(r[key] for r in results[mode]), 2)

    plain, recorded = median("plain", "cpu_percent"), median("recorded", "cpu_percent")
    plain_mb, recorded_mb = median("plain", "cpu_ms_per_mb"), median("recorded", "cpu_ms_per_mb")
    return {
        "bench": "recording",
        "runs": runs,
        "seconds_per_run": seconds,
        "target_bytes_per_second": 1_000_000,
        "plain": {
            "cpu_percent": plain,
            "received_bytes_per_second": median("plain", "received_bytes_per_second"),
            "runs": results["plain"],
        },
        "recorded": {
            "cpu_percent": recorded,
            "received_bytes_per_second": median("recorded", "received_bytes_per_second"),
            "runs": results["recorded"],
            "recording_bytes": sorted(r["size_bytes"] for r in recordings),
        },
        "overhead_percent": round((recorded - plain) / plain * 100, 1) if plain else None,
        # The same per megabyte the client received: runs whose rate differs compare fairly.
        "overhead_percent_per_mb": round((recorded_mb - plain_mb) / plain_mb * 100, 1),
        "overhead_cpu_points": round(recorded - plain, 2),
        "cores": psutil.cpu_count(),
        "load_average_1m": round(psutil.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.runs, args.seconds)), indent=2))
