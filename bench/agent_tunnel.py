"""Agent tunnel benchmark (issue 15, "The agent as an outbound tunnel"). Prints one JSON
document.

The hub is Moorage's app served by uvicorn in this process (so the bench can reach
its registry of tunnels); the agent is a real ``moorage agent run --docker`` process
serving this machine's Docker socket, dialling the hub through a TCP relay of this
bench that can cut every connection and refuse new ones.

* ``latency``: the same Docker API calls (``GET /version``, ``GET /containers/json``,
  ``GET /images/json``) made ``--calls`` times each, alternately straight to the
  socket and through the tunnel (:class:`AgentTunnel`, as the hub's driver uses it).
  ``added_p95_ms`` is the tunnel's p95 minus the socket's. Target: ≤ 20 ms.
* ``reconnect``: ``--cuts`` times, every connection through the relay is cut and new
  ones refused for 1–3 s, then accepted again; the time from that moment until a
  Docker call through the tunnel succeeds again. Target: p95 ≤ 5 s.

Usage: ``uv run python bench/agent_tunnel.py [--calls 300] [--cuts 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiodocker
import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import free_port

from moorage.app import create_app
from moorage.config import Settings
from moorage.drivers.docker.agent_tunnel import AgentTunnel
from moorage.models.fleet import Node

PASSWORD = "bench-agent-tunnel-pw"
SOCKET = "/var/run/docker.sock"
TARGET_ADDED_P95_MS, TARGET_RECONNECT_P95_S = 20.0, 5.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Relay:
    """A TCP relay on loopback whose connections can all be cut at once."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Close every relayed connection and stop accepting."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}


async def timed(call) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def main(calls: int, cuts: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="moorage-bench-tunnel-"))
    port = free_port()
    settings = Settings(
        data_dir=folder / "data",
        admin_password=SecretStr(PASSWORD),
        reconcile_interval_seconds=3600,
    )
    app = create_app(settings, announce=lambda message: None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
        await asyncio.sleep(0.05)
    relay = Relay(port)
    await relay.open()
    agent: asyncio.subprocess.Process | None = None
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Origin": f"http://127.0.0.1:{port}"}
        ) as client:
            await client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
            )
            token = (await client.post("/api/v1/enrollment-tokens", json={"name": "bench"})).json()[
                "token"
            ]
        config = folder / "agent.json"
        run = [sys.executable, "-m", "moorage", "agent"]
        hub = f"http://127.0.0.1:{relay.port}"
        enrolled = await asyncio.create_subprocess_exec(
            *run,
            "enroll",
            "--server",
            hub,
            "--token",
            token,
            "--config",
            str(config),
            stdout=subprocess.DEVNULL,
        )
        assert await enrolled.wait() == 0, "enrolment failed"
        node = json.loads(config.read_text())["name"]
        with (folder / "agent.log").open("w") as log:
            agent = await asyncio.create_subprocess_exec(
                *run,
                "run",
                "--docker",
                "--config",
                str(config),
                "--interval",
                "60",
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        context = app.state.context
        async with context.sessionmaker() as db:  # the config names the node, not its org
            org_id = await db.scalar(select(Node.org_id).where(Node.name == node))
        tunnel = AgentTunnel(context.agent_connections, org_id, node, SOCKET, wait_seconds=30)
        direct = aiodocker.Docker(f"unix://{SOCKET}")
        via = aiodocker.Docker(tunnel.url)
        await via.version()  # waits for the agent to dial in

        operations = {
            "version": lambda d: d.version(),
            "containers": lambda d: d.containers.list(all=True),
            "images": lambda d: d.images.list(),
        }
        latency: dict[str, dict[str, float]] = {}
        for name, operation in operations.items():
            socket_ms: list[float] = []
            tunnel_ms: list[float] = []
            for _ in range(calls):
                socket_ms.append(await timed(lambda op=operation: op(direct)))
                tunnel_ms.append(await timed(lambda op=operation: op(via)))
            latency[name] = {
                "socket_p50_ms": round(pct(socket_ms, 50), 2),
                "socket_p95_ms": round(pct(socket_ms, 95), 2),
                "tunnel_p50_ms": round(pct(tunnel_ms, 50), 2),
                "tunnel_p95_ms": round(pct(tunnel_ms, 95), 2),
                "added_p95_ms": round(pct(tunnel_ms, 95) - pct(socket_ms, 95), 2),
            }

        back: list[float] = []
        for _ in range(cuts):
            await relay.cut()
            while context.agent_connections.connected(org_id, node):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            await asyncio.sleep(random.uniform(1.0, 3.0))
            await relay.open()
            restored = time.perf_counter()
            while True:
                try:
                    await asyncio.wait_for(via.version(), 10)
                    break
                except (aiodocker.DockerError, TimeoutError, OSError):
                    await asyncio.sleep(0.05)
            back.append(time.perf_counter() - restored)
        await direct.close()
        await via.close()
        await tunnel.close()
        worst_added = max(row["added_p95_ms"] for row in latency.values())
        return {
            "bench": "agent_tunnel",
            "calls_per_operation": calls,
            "latency": latency,
            "reconnect": {
                "cuts": cuts,
                "p50_s": round(pct(back, 50), 3),
                "p95_s": round(pct(back, 95), 3),
                "max_s": round(max(back), 3),
            },
            "targets": {
                "added_p95_ms": TARGET_ADDED_P95_MS,
                "reconnect_p95_s": TARGET_RECONNECT_P95_S,
            },
            "met": worst_added <= TARGET_ADDED_P95_MS and pct(back, 95) <= TARGET_RECONNECT_P95_S,
        }
    finally:
        if agent is not None:
            agent.terminate()
            await agent.wait()
        await relay.cut()
        server.should_exit = True
        await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cuts", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.calls, args.cuts)), indent=2))
