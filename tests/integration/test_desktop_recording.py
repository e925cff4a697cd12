"""A recorded desktop (kind vnc): the RFB stream the viewer got is stored in frames
from ServerInit on, so a player can feed it to noVNC; the viewer's pointer is
activity, noVNC-style update requests are not."""

from __future__ import annotations

import asyncio
import struct
import time

import websockets

from moorage.services.recording_files import read_rfb_frames


class Reader:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.buffer = b""

    async def read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self.buffer += await asyncio.wait_for(self.ws.recv(), 30)
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


async def test_a_recorded_desktop_keeps_the_rfb_stream_from_server_init(admin):
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "recorded-desktop",
            "display_name": "Recorded desktop",
            "kind": "vnc",
            "image": "moorage/desktop:latest",
            "memory_limit_mb": 1024,
            "recording": True,
            "idle_timeout_seconds": 3600,
        },
    )
    assert created.status_code in (201, 409), created.text  # 409: a rerun on the same database
    session = (await admin.post("/api/v1/sessions", json={"template": "recorded-desktop"})).json()
    assert session["recorded"] is True, session
    token = (await admin.post("/api/v1/tokens", json={"name": "desktop-rec"})).json()["token"]
    async with websockets.connect(
        session["urls"]["desktop"],
        subprotocols=["binary"],
        max_size=None,
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        rfb = Reader(ws)
        await ws.send(await rfb.read(12))  # ProtocolVersion, echoed
        assert await rfb.read(2) == b"\x01\x01"  # one security type: None
        await ws.send(b"\x01")
        assert await rfb.read(4) == b"\0\0\0\0"
        await ws.send(b"\x01")  # ClientInit, shared
        init = await rfb.read(24)
        width, height = struct.unpack(">HH", init[:4])
        await rfb.read(struct.unpack(">I", init[20:24])[0])
        await ws.send(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw
        await ws.send(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
        assert (await rfb.read(4))[0] == 0  # a FramebufferUpdate
        before = (await admin.get(f"/api/v1/sessions/{session['id']}")).json()["idle_since"]
        await asyncio.sleep(1.1)
        await ws.send(struct.pack(">BBHH", 5, 0, 10, 10))  # PointerEvent: a person
        await asyncio.sleep(0.5)
        after = (await admin.get(f"/api/v1/sessions/{session['id']}")).json()["idle_since"]
        assert after > before

    deadline = time.monotonic() + 15
    while True:
        rows = (await admin.get(f"/api/v1/recordings?session={session['id']}")).json()
        if rows and rows[0]["ended_at"]:
            break
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.25)
    (recording,) = rows
    assert recording["kind"] == "desktop"
    stored = await admin.get(recording["file"])
    assert stored.status_code == 200
    _header, frames = read_rfb_frames(stored.content)
    stream = b"".join(data for _ms, data in frames)
    assert stream.startswith(init)  # ServerInit first: what noVNC needs after the handshake
    assert len(stream) > 24 + 4
    page = await admin.get(f"/recordings/{recording['id']}")
    assert page.status_code == 200 and "recording-player.js" in page.text
    await admin.delete(f"/api/v1/sessions/{session['id']}")
