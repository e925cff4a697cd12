"""The events stream survives the engine going away: the environment's endpoint is a
TCP relay to the real engine that the test cuts and brings back, as an engine
restart looks to a client (the connection drops, then refuses, then answers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

from tests.live_server import free_port

SOCKET = "/var/run/docker.sock"


class Relay:
    """127.0.0.1:port → the local engine's socket; :meth:`cut` drops every connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(SOCKET)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()


async def next_event(lines, kind: str, within: float = 30.0) -> dict:
    """The data of the next server-sent event named ``kind``."""

    async def scan() -> dict:
        event = None
        async for line in lines:
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == kind:
                return json.loads(line.split(":", 1)[1])
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(scan(), within)


async def test_events_reconnect_after_the_engine_comes_back(admin, docker):
    relay = Relay(free_port())
    await relay.start()
    name = f"relay-{uuid.uuid4().hex[:6]}"
    box = f"events-{uuid.uuid4().hex[:6]}"
    created = await admin.post(
        "/api/v1/environments", json={"name": name, "url": f"tcp://127.0.0.1:{relay.port}"}
    )
    assert created.json()["status"] == "reachable", created.text
    try:
        async with admin.stream(
            "GET", f"/api/v1/environments/{name}/events", timeout=None
        ) as response:
            lines = response.aiter_lines()
            assert (await next_event(lines, "engine"))["status"] == "connected"
            await relay.cut()
            gone = await next_event(lines, "engine")
            assert gone["status"] == "disconnected" and gone["message"]
            await asyncio.sleep(1.5)  # refused while it is down: the stream keeps retrying
            await relay.start()
            assert (await next_event(lines, "engine"))["status"] == "connected"
            made = await admin.post(
                f"/api/v1/environments/{name}/containers",
                json={"image": "moorage/terminal:latest", "name": box, "start": False},
            )
            assert made.status_code == 201, made.text
            while (event := await next_event(lines, "docker"))["name"] != box:
                pass
            assert event["action"] == "create"
    finally:
        await admin.delete(f"/api/v1/environments/local/containers/{box}")
        await admin.delete(f"/api/v1/environments/{name}")
        await relay.cut()
