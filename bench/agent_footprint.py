"""Agent footprint benchmark (issue: fleet monitoring). Prints JSON.

Runs a real agent (``python -m moorage agent run``, default 10 s interval) against
a real ``moorage serve`` for ``--seconds`` (default 600: the issue's 10 minutes)
and reads the agent process with psutil every 5 s: RSS (max and last) and CPU
time, reported as percent of one core over the whole run. Targets: RSS ≤ 60 MB,
CPU ≤ 1 % of a core.

Usage: ``uv run python bench/agent_footprint.py [--seconds 600] [--interval 10]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import ADMIN_PASSWORD, Server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--interval", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = Server(folder, f"sqlite+aiosqlite:///{folder / 'moorage.db'}")
        server.start()
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                client.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
                )
                token = client.post("/api/v1/enrollment-tokens", json={}).json()["token"]
            config = folder / "agent.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "moorage",
                    "agent",
                    "enroll",
                    "--server",
                    server.base_url,
                    "--token",
                    token,
                    "--config",
                    str(config),
                ],
                check=True,
                capture_output=True,
            )
            agent = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "moorage",
                    "agent",
                    "run",
                    "--config",
                    str(config),
                    "--interval",
                    str(args.interval),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                process = psutil.Process(agent.pid)
                time.sleep(2)  # start-up (imports) is not the steady state
                cpu_start = sum(process.cpu_times()[:2])
                started = time.monotonic()
                rss = []
                while time.monotonic() - started < args.seconds:
                    rss.append(process.memory_info().rss)
                    time.sleep(min(5, args.seconds))
                cpu = sum(process.cpu_times()[:2]) - cpu_start
                elapsed = time.monotonic() - started
            finally:
                agent.terminate()
                agent.wait(timeout=10)
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "seconds": round(elapsed, 1),
                "interval_seconds": args.interval,
                "rss_max_mb": round(max(rss) / 2**20, 1),
                "rss_last_mb": round(rss[-1] / 2**20, 1),
                "cpu_percent_of_a_core": round(100 * cpu / elapsed, 3),
                "target_rss_mb": 60,
                "target_cpu_percent": 1,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
