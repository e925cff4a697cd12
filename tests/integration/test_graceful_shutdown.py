"""SIGTERM on a busy server: its event streams say "restarting" before they end, its
websockets close with 1012 (Service Restart), and the process is gone within 10 s
(what systemd and `docker stop` wait before SIGKILL)."""

from __future__ import annotations

import asyncio
import signal
import time

import websockets

from moorage.api.event_stream import RESTARTING_MESSAGE
from tests.integration.terminal_client import TerminalClient, terminal


async def _restarting_event(client, path: str, opened: asyncio.Event) -> str:
    """Read the SSE stream at ``path`` until its ``restarting`` event; its data."""
    event = None
    async with client.stream("GET", path, timeout=30) as response:
        assert response.status_code == 200
        opened.set()
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event == "restarting":
                return line.partition(":")[2].strip()
    raise AssertionError(f"{path} ended without a restarting event")


async def test_sigterm_says_restarting_to_streams_and_websockets_and_exits_in_time(
    fresh_server, docker
):
    fresh_server.start()
    client = await fresh_server.login()
    token = (await client.post("/api/v1/tokens", json={"name": "sigterm"})).json()["token"]
    launched = await client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    try:
        async with terminal(session["urls"]["terminal"], token=token) as ws:
            term = TerminalClient(ws)
            await term.send("echo up-$((2*3))\n")
            await term.expect("up-6")
            opened = [asyncio.Event(), asyncio.Event()]
            streams = [
                asyncio.create_task(_restarting_event(client, "/ui/sessions/events", opened[0])),
                asyncio.create_task(_restarting_event(client, "/api/v1/nodes/stream", opened[1])),
            ]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), 30)

            process = fresh_server.process
            assert process is not None
            began = time.monotonic()
            process.send_signal(signal.SIGTERM)
            messages = await asyncio.wait_for(asyncio.gather(*streams), 10)
            assert messages == [RESTARTING_MESSAGE, RESTARTING_MESSAGE]
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1012
            code = await asyncio.to_thread(process.wait, 10)
            assert time.monotonic() - began < 10
            assert code in (0, -signal.SIGTERM)
    finally:
        await client.aclose()
        # The session outlives the server (a lease, not a process): a new server on the
        # same data directory ends it, so no container is left.
        fresh_server.start()
        again = await fresh_server.login()
        await again.delete(f"/api/v1/sessions/{session['id']}")
        await again.aclose()
