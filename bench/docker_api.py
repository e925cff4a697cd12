"""Docker management benchmarks (issue: Docker environment management). Prints JSON.

In one run, against a real ``moorage serve`` and the local engine:

* ``list_200``: listing 200 containers (created, not started, labelled
  ``moorage.test=bench``) through ``GET /api/v1/environments/local/containers``
  vs ``docker ps -a --format json``; p50 and p95 of 30 calls each.
* ``log_follow``: a container prints 100,000 lines; lines per second delivered
  to a client following the logs over SSE vs ``docker logs -f``.

Usage: ``uv run python bench/docker_api.py``
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiodocker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import Server

IMAGE = "moorage/terminal:latest"
LINES = 100_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 4)


async def list_200(client, docker: aiodocker.Docker) -> dict[str, object]:
    created = await asyncio.gather(
        *(
            docker.containers.create(
                config={"Image": IMAGE, "Labels": {"moorage.test": "bench"}, "Cmd": ["true"]}
            )
            for _ in range(200)
        )
    )
    try:
        api, cli = [], []
        for _ in range(30):
            started = time.perf_counter()
            response = await client.get("/api/v1/environments/local/containers")
            api.append(time.perf_counter() - started)
            assert response.status_code == 200 and len(response.json()) >= 200
            started = time.perf_counter()
            await asyncio.to_thread(
                subprocess.run,
                ["docker", "ps", "-a", "--format", "json"],
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - started)
        return {
            "containers": len(response.json()),
            "api_p50_s": pct(api, 50),
            "api_p95_s": pct(api, 95),
            "cli_p50_s": pct(cli, 50),
            "cli_p95_s": pct(cli, 95),
            "ratio_p50": round(pct(api, 50) / pct(cli, 50), 3),
            "ratio_p95": round(pct(api, 95) / pct(cli, 95), 3),
            "target_ratio": 1.5,
        }
    finally:
        await asyncio.gather(*(c.delete(force=True) for c in created))


async def log_follow(client, docker: aiodocker.Docker) -> dict[str, object]:
    container = await docker.containers.run(
        config={
            "Image": IMAGE,
            "Labels": {"moorage.test": "bench"},
            "Cmd": ["bash", "-c", f"seq 1 {LINES}; sleep infinity"],
        }
    )
    try:
        for _ in range(100):  # wait until all lines are written
            logs = await container.log(stdout=True, tail=1)
            if logs and logs[-1].strip() == str(LINES):
                break
            await asyncio.sleep(0.1)
        started = time.perf_counter()
        count = 0
        async with client.stream(
            "GET",
            f"/api/v1/environments/local/containers/{container.id}/logs",
            params={"follow": "true", "tail": "all"},
        ) as response:
            # Count `data:` fields in the raw stream: the client's own parsing speed is
            # not what is measured (a browser's EventSource parses in native code).
            tail = b""
            async for chunk in response.aiter_raw():
                block = tail + chunk
                count += block.count(b"\ndata: ") + block.startswith(b"data: ")
                tail = block[-7:]
                count -= tail.count(b"\ndata: ")
                if count >= LINES:
                    break
        api_seconds = time.perf_counter() - started

        def cli() -> float:
            began = time.perf_counter()
            process = subprocess.Popen(
                ["docker", "logs", "-f", container.id],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert process.stdout is not None
            seen = 0
            for _ in process.stdout:
                seen += 1
                if seen >= LINES:
                    break
            elapsed = time.perf_counter() - began
            process.kill()
            process.wait()
            return elapsed

        cli_seconds = await asyncio.to_thread(cli)
        return {
            "lines": LINES,
            "api_lines_per_s": round(LINES / api_seconds),
            "cli_lines_per_s": round(LINES / cli_seconds),
            "ratio": round(cli_seconds / api_seconds, 3),
            "target_ratio": 0.8,
        }
    finally:
        await container.delete(force=True)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), f"sqlite+aiosqlite:///{tmp}/moorage.db")
        server.start()
        try:
            client = await server.login()
            client.timeout = 120
            async with aiodocker.Docker() as docker:
                result = {
                    "benchmark": "docker_api",
                    "list_200": await list_200(client, docker),
                    "log_follow": await log_follow(client, docker),
                }
            await client.aclose()
        finally:
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
