"""A Docker engine and its loopback ports reached through the channels of one SSH
connection (asyncssh): the part that ``ssh://`` and ``agent://`` environments share.

A :class:`ChannelTunnel` listens on a private local Unix socket; each connection to
it becomes a ``direct-streamlocal@openssh.com`` channel to the engine's socket on
the far host, so aiodocker sees an ordinary ``unix://`` endpoint. :meth:`forward`
gives the gateway a loopback port for a far port (``direct-tcpip``, RFC 4254 7.2).
SSH's channels bring the multiplexing and per-channel flow control (window
adjustments, RFC 4254 5.2), so a slow log reader never stalls an exec.

Subclasses say how the connection is made (:meth:`ChannelTunnel._connect`): an
outbound login (:class:`~moorage.drivers.docker.ssh_tunnel.SSHTunnel`) or the one an
agent opened to the hub (:class:`~moorage.drivers.docker.agent_tunnel.AgentTunnel`).
asyncssh's own ``forward_local_path`` needs the connection up before it listens; the
reconnecting listener here is the part it lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from moorage.errors import RuntimeUnavailable

if TYPE_CHECKING:
    import asyncssh

__all__ = ["MAX_FORWARDS", "ChannelTunnel", "pipe", "splice"]

log = logging.getLogger(__name__)

MAX_FORWARDS = 256
"""Local listeners (one per far port in use) a :class:`ChannelTunnel` keeps at most."""


class ChannelTunnel:
    """A local Unix socket whose connections reach a far engine's socket.

    Args:
        host: the far host's name, for messages.
        socket_path: the engine's socket on the far host.
    """

    def __init__(self, host: str, socket_path: str) -> None:
        self._host = host
        self._socket_path = socket_path
        self._folder = Path(tempfile.mkdtemp(prefix="moorage-tunnel-"))
        self.path = self._folder / "docker.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o600)
        listener.listen(64)
        self._server_task = asyncio.get_running_loop().create_task(
            asyncio.start_unix_server(self._serve, sock=listener)
        )
        self._pipes: set[asyncio.Task[None]] = set()
        # (far host, far port) → (the connection it rides on, its local listener),
        # oldest first; see forward().
        self._forwards: OrderedDict[
            tuple[str, int], tuple[asyncssh.SSHClientConnection, asyncssh.SSHListener]
        ] = OrderedDict()
        self._forward_lock = asyncio.Lock()
        self.last_error: str | None = None

    @property
    def url(self) -> str:
        """The ``unix://`` URL to give aiodocker."""
        return f"unix://{self.path}"

    async def _connect(self) -> asyncssh.SSHClientConnection:
        """The live SSH connection to the far host (made or awaited as needed).

        Raises:
            RuntimeUnavailable: it cannot be had.
        """
        raise NotImplementedError

    async def _drop(self) -> None:
        """Close the connection this tunnel made, if it made one."""

    async def forward(self, remote_host: str, remote_port: int) -> tuple[str, int]:
        """A port on this host's loopback whose connections are carried over the SSH
        connection to ``remote_host:remote_port`` as the far host sees it (a
        ``direct-tcpip`` channel each, RFC 4254 7.2). One listener per far port, kept
        while its connection lives; the oldest is closed past
        :data:`MAX_FORWARDS` (connections already made through it go on).

        Raises:
            RuntimeUnavailable: the SSH connection cannot be had, or the far side
                refused to forward.
        """
        import asyncssh

        key = (remote_host, remote_port)
        connection = await self._connect()
        async with self._forward_lock:
            held = self._forwards.get(key)
            if held is not None and held[0] is connection:
                self._forwards.move_to_end(key)
                return "127.0.0.1", held[1].get_port()
            if held is not None:
                held[1].close()
            try:
                listener = await connection.forward_local_port(
                    "127.0.0.1", 0, remote_host, remote_port
                )
            except (OSError, asyncssh.Error) as exc:
                raise RuntimeUnavailable(
                    "%(host)s refused to forward port %(port)s: %(error)s",
                    params={"host": self._host, "port": remote_port, "error": str(exc)},
                ) from exc
            self._forwards[key] = (connection, listener)
            while len(self._forwards) > MAX_FORWARDS:
                _, (_, oldest) = self._forwards.popitem(last=False)
                oldest.close()
            return "127.0.0.1", listener.get_port()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Cancelled only by close(). It ends quietly then: on Python 3.11, asyncio's
        # stream server logs a traceback for a connection task that ends cancelled.
        with contextlib.suppress(asyncio.CancelledError):
            await self._carry(reader, writer)

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncssh

        try:
            connection = await self._connect()
            remote_reader, remote_writer = await connection.open_unix_connection(self._socket_path)
        except (RuntimeUnavailable, asyncssh.Error, OSError) as exc:
            # aiodocker sees the connection close; the status check reads last_error.
            self.last_error = exc.message if isinstance(exc, RuntimeUnavailable) else str(exc)
            log.warning("tunnel to %s: %s", self._host, self.last_error)
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._pipes.add(task)
        try:
            await splice(reader, writer, remote_reader, remote_writer)
        finally:
            if task is not None:
                self._pipes.discard(task)

    async def close(self) -> None:
        """Stop listening, cut open connections and the SSH connection this tunnel
        made."""
        server = await self._server_task
        server.close()
        for task in list(self._pipes):
            task.cancel()
        for _, listener in self._forwards.values():
            listener.close()
        self._forwards.clear()
        await self._drop()
        shutil.rmtree(self._folder, ignore_errors=True)


async def splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    far_reader: asyncio.StreamReader | asyncssh.SSHReader[bytes],
    far_writer: asyncio.StreamWriter | asyncssh.SSHWriter[bytes],
) -> None:
    """Copy both ways between a local connection and a far one until both ends are
    done, then close both."""
    try:
        await asyncio.gather(
            pipe(reader, far_writer), pipe(far_reader, writer), return_exceptions=True
        )
    finally:
        writer.close()
        far_writer.close()


async def pipe(
    reader: asyncio.StreamReader | asyncssh.SSHReader[bytes],
    writer: asyncio.StreamWriter | asyncssh.SSHWriter[bytes],
) -> None:
    """Copy ``reader`` to ``writer`` until end of file, then half-close ``writer``."""
    import asyncssh

    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError, asyncssh.Error):
                writer.write_eof()
