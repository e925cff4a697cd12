"""The agent's outbound tunnel (``moorage agent run --docker``): the hub reaches this
machine's Docker engine and loopback ports through one websocket that the agent
opens, so nothing listens here.

The agent dials ``wss://<hub>/api/v1/agents/tunnel`` with its credential, then runs
an SSH server (asyncssh's reverse direction, ``connect_reverse``) over the
websocket's bytes; the hub is its only client (see
:mod:`moorage.drivers.docker.agent_tunnel`). The server opens no shell and no
session. It allows exactly two kinds of channel:

- ``direct-streamlocal@openssh.com`` to the one Docker socket it was told to serve;
- ``direct-tcpip`` to a port on this machine's loopback (``127.0.0.1``, ``::1``),
  where workspaces publish their ports.

Everything else is refused. A cut connection is dialled again with exponential
back-off and full jitter, at most :data:`MAX_BACKOFF` seconds apart.

Needs asyncssh and aiohttp besides the agent's usual psutil and httpx; they are
imported only when the tunnel runs. Not on Windows (no Unix socket to serve).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from moorage.agent._common import AGENT_VERSION, log

__all__ = ["LOOPBACK", "MAX_BACKOFF", "DockerTunnel", "bridge", "tunnel_url"]

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_BACKOFF = 3.0
"""Seconds between two dials at most, so a hub that comes back is reached within it."""
CHUNK = 65536


async def bridge(
    sock: socket.socket,
    receive: Callable[[], Awaitable[bytes | None]],
    send: Callable[[bytes], Awaitable[None]],
) -> None:
    """Carry bytes between ``sock`` (one end of a socket pair) and a websocket until
    either side ends: each read of up to 64 KiB becomes one binary message, each
    message received is written in order. ``receive`` gives None once the websocket
    closed. Closes ``sock`` on the way out. Back-pressure holds both ways: a write
    waits for the socket to drain, a send for the websocket."""
    reader, writer = await asyncio.open_connection(sock=sock)

    async def outward() -> None:
        while data := await reader.read(CHUNK):
            await send(data)

    async def inward() -> None:
        while (data := await receive()) is not None:
            writer.write(data)
            await writer.drain()

    tasks = [asyncio.create_task(outward()), asyncio.create_task(inward())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def tunnel_url(server: str) -> str:
    """The tunnel's websocket URL on the hub ``server`` (``http(s)://host[:port][/prefix]``)."""
    base = server.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return f"{base}/api/v1/agents/tunnel"


def _server_class(docker_socket: str) -> type[Any]:
    import asyncssh

    class TunnelServer(asyncssh.SSHServer):  # type: ignore[misc]
        """Allows the Docker socket and loopback ports, nothing else."""

        def begin_auth(self, username: str) -> bool:
            return False  # the websocket under it was authenticated by the hub

        def connection_requested(
            self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
        ) -> bool:
            allowed = dest_host in LOOPBACK
            if not allowed:
                log.warning("tunnel: refused a connection to %s:%s", dest_host, dest_port)
            return allowed

        def unix_connection_requested(self, dest_path: str) -> bool:
            allowed = dest_path == docker_socket
            if not allowed:
                log.warning("tunnel: refused a connection to %s", dest_path)
            return allowed

    return TunnelServer


class DockerTunnel:
    """Keeps the tunnel to the hub open, dialling again after every cut.

    Args:
        config: the enrolled config (``server``, ``credential``, ``ca_file``?).
        docker_socket: the engine's Unix socket that the hub may reach.
    """

    def __init__(self, config: dict[str, Any], docker_socket: str) -> None:
        self.url = tunnel_url(config["server"])
        self.docker_socket = docker_socket
        self._headers = {
            "Authorization": f"Bearer {config['credential']}",
            "User-Agent": f"moorage-agent/{AGENT_VERSION}",
        }
        self._ca_file = config.get("ca_file")
        self.failures = 0
        self.connected = asyncio.Event()

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("wss://"):
            return True  # aiohttp's default; plain ws:// uses no TLS anyway
        return ssl.create_default_context(cafile=self._ca_file)

    async def run_forever(self) -> None:
        """Dial, serve until cut, wait (back-off with full jitter), again."""
        while True:
            try:
                await self.serve_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: the hub away, refused, cut
                self.failures += 1
                log.warning("docker tunnel: %s", str(exc) or type(exc).__name__)
            ceiling = min(MAX_BACKOFF, 0.5 * 2 ** min(self.failures, 8))
            await asyncio.sleep(random.uniform(0.1, ceiling))

    async def serve_once(self) -> None:
        """One connection: dial, carry SSH over it until it closes.

        Raises:
            aiohttp.ClientError, OSError, asyncssh.Error: the dial or handshake failed.
        """
        import aiohttp
        import asyncssh

        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(
                self.url, headers=self._headers, ssl=self._ssl(), heartbeat=15, max_msg_size=0
            ) as websocket,
        ):

            async def receive() -> bytes | None:
                message = await websocket.receive()
                if message.type == aiohttp.WSMsgType.BINARY:
                    return bytes(message.data)
                return None  # closed, closing or an error: the tunnel ends

            ours, theirs = socket.socketpair()
            carried = asyncio.create_task(bridge(theirs, receive, websocket.send_bytes))
            try:
                connection = await asyncssh.connect_reverse(
                    sock=ours,
                    config=None,
                    server_factory=_server_class(self.docker_socket),
                    server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
                    keepalive_interval=15,
                    keepalive_count_max=3,
                )
            except BaseException:
                carried.cancel()
                ours.close()
                raise
            self.failures = 0
            self.connected.set()
            log.info("docker tunnel to %s is up", self.url)
            closed = asyncio.create_task(connection.wait_closed())
            try:
                await asyncio.wait({carried, closed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.connected.clear()
                connection.close()
                carried.cancel()
                closed.cancel()
            log.warning("docker tunnel to %s closed", self.url)
