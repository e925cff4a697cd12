"""Desktop benchmark (issue: browser desktops). Prints one JSON document.

* ``launch_to_first_frame``: ``POST /api/v1/sessions`` of a ``moorage/desktop``
  template, then the first framebuffer update through Moorage's websocket
  gateway (``/api/v1/sessions/{id}/vnc``); the reference is ``docker run -d``
  of the same image with its VNC port published on 127.0.0.1, then the first
  framebuffer update read directly (VNC Authentication done by the client).
* ``idle_cpu_percent``: CPU of an idle desktop container over 10 s (% of one core).

Usage: ``uv run python bench/desktop.py [--runs 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import tempfile
import time
from pathlib import Path

import aiodocker
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import Server

from moorage.services.kinds.rfb import server_handshake

IMAGE = "moorage/desktop:latest"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 4)


async def first_frame(read, write) -> None:
    """After security: ClientInit, ServerInit, SetEncodings(Raw), a full update request,
    then the header of the first FramebufferUpdate (RFC 6143 7.3, 7.5, 7.6)."""
    await write(b"\x01")  # ClientInit, shared
    init = await read(24)
    width, height = struct.unpack(">HH", init[:4])
    (name_length,) = struct.unpack(">I", init[20:24])
    await read(name_length)
    await write(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw
    await write(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
    header = await read(4)
    assert header[0] == 0, f"not a FramebufferUpdate: {header!r}"


async def through_moorage(client, ws_url: str, token: str) -> None:
    async with websockets.connect(
        ws_url,
        subprotocols=["binary"],
        max_size=None,
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        buffer = b""

        async def read(count: int) -> bytes:
            nonlocal buffer
            while len(buffer) < count:
                buffer += await ws.recv()
            data, buffer = buffer[:count], buffer[count:]
            return data

        async def write(data: bytes) -> None:
            await ws.send(data)

        await read(12)
        await write(b"RFB 003.008\n")
        count = (await read(1))[0]
        await read(count)
        await write(b"\x01")  # None
        await read(4)
        await first_frame(read, write)


async def reference(docker: aiodocker.Docker) -> float:
    started = time.perf_counter()
    container = await docker.containers.run(
        config={
            "Image": IMAGE,
            "Env": ["VNC_PASSWORD=bench-pass1"],
            "HostConfig": {"PortBindings": {"5901/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
            "ExposedPorts": {"5901/tcp": {}},
            "Labels": {"moorage.test": "bench"},
        }
    )
    try:
        info = await container.show()
        port = int(info["NetworkSettings"]["Ports"]["5901/tcp"][0]["HostPort"])
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                await server_handshake(reader, writer, "bench-pass1")
                break
            except Exception:
                await asyncio.sleep(0.02)

        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        await first_frame(reader.readexactly, write)
        writer.close()
        return time.perf_counter() - started
    finally:
        await container.delete(force=True)


async def idle_cpu(docker: aiodocker.Docker, session_id: str) -> float:
    (container,) = await docker.containers.list(
        filters={"label": [f"moorage.session={session_id}"]}
    )
    await asyncio.sleep(3)  # let the desktop settle

    async def sample() -> tuple[int, float]:
        (stats,) = await container.stats(stream=False)
        return stats["cpu_stats"]["cpu_usage"]["total_usage"], time.monotonic()

    used0, t0 = await sample()
    await asyncio.sleep(10)
    used1, t1 = await sample()
    return round((used1 - used0) / 1e9 / (t1 - t0) * 100, 3)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), f"sqlite+aiosqlite:///{tmp}/moorage.db")
        server.start()
        try:
            client = await server.login()
            client.timeout = 120
            await client.post(
                "/api/v1/templates",
                json={
                    "name": "desktop",
                    "display_name": "Desktop",
                    "kind": "vnc",
                    "image": IMAGE,
                    "memory_limit_mb": 1024,
                    "max_sessions_per_user": 5,
                },
            )
            token = (await client.post("/api/v1/tokens", json={})).json()["token"]
            moorage, direct = [], []
            async with aiodocker.Docker() as docker:
                await reference(docker)  # warm the image cache
                for _ in range(args.runs):
                    started = time.perf_counter()
                    session = (
                        await client.post("/api/v1/sessions", json={"template": "desktop"})
                    ).json()
                    await through_moorage(client, session["urls"]["desktop"], token)
                    moorage.append(time.perf_counter() - started)
                    await client.delete(f"/api/v1/sessions/{session['id']}")
                    direct.append(await reference(docker))
                session = (
                    await client.post("/api/v1/sessions", json={"template": "desktop"})
                ).json()
                cpu = await idle_cpu(docker, session["id"])
                await client.delete(f"/api/v1/sessions/{session['id']}")
            await client.aclose()
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "benchmark": "desktop",
                "launch_to_first_frame_s": {
                    "moorage_p50": pct(moorage, 50),
                    "moorage_p95": pct(moorage, 95),
                    "docker_run_p50": pct(direct, 50),
                    "docker_run_p95": pct(direct, 95),
                    "ratio_p50": round(pct(moorage, 50) / pct(direct, 50), 3),
                    "ratio_p95": round(pct(moorage, 95) / pct(direct, 95), 3),
                    "target_ratio": 1.25,
                },
                "idle_cpu_percent_of_a_core": cpu,
                "idle_target_percent": 2.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
