"""A websocket client for the terminal gateway, reading until expected output appears."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import websockets


class TerminalClient:
    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.output = b""

    async def send(self, text: str) -> None:
        await self.connection.send(text.encode())

    async def resize(self, cols: int, rows: int) -> None:
        await self.connection.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    async def expect(self, needle: str, timeout_seconds: float = 15) -> str:
        """Read frames until ``needle`` appears in the output; return the output so far."""
        deadline = time.monotonic() + timeout_seconds
        while needle.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; output was {self.output[-500:]!r}")
            frame = await asyncio.wait_for(self.connection.recv(), left)
            assert isinstance(frame, bytes), f"text frame from server: {frame!r}"
            self.output += frame
        return self.output.decode(errors="replace")


def terminal(ws_url: str, token: str | None = None, cookie: str | None = None):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
        # A cookie handshake must come from Moorage's own pages (moorage.security.csrf).
        parts = urlsplit(ws_url)
        headers["Origin"] = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"
    return websockets.connect(ws_url, additional_headers=headers, max_size=None)
