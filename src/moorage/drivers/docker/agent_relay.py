"""An agent's tunnel shared with the other Moorage processes of the same data directory.

An agent dials one hub process, but a deployment runs several (``moorage serve``
with several processes, ``moorage worker`` apart, all on one data volume). The
process holding a node's tunnel listens on a Unix socket in the data directory
(:func:`relay_path`, mode 0600 in a 0700 folder, like the keys beside it); another
process connects there and sends one header line naming the channel it wants,
``unix <path>`` (the Docker socket) or ``tcp <host> <port>`` (a loopback port), then
the bytes flow. The holder opens that channel on its SSH connection, so the agent
still allows or refuses it as ever.

No library does this relay: it is a header line in front of a byte copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from moorage.drivers.docker.channel_tunnel import splice

if TYPE_CHECKING:
    import asyncssh

__all__ = ["Relay", "open_relayed", "relay_path"]

log = logging.getLogger(__name__)

MAX_PATH = 100
"""A Unix socket's path is at most 107 bytes on Linux; keep a margin."""
HEADER_SECONDS = 5.0


def relay_path(folder: Path | None, org_id: str, node: str) -> Path | None:
    """Where the holder of ``node``'s tunnel listens; None without a folder or when the
    path would be too long for a Unix socket."""
    if folder is None:
        return None
    digest = hashlib.sha256(f"{org_id}/{node}".encode()).hexdigest()[:24]
    path = folder / f"{digest}.sock"
    return path if len(str(path)) <= MAX_PATH else None


class Relay:
    """The holder's side: serves other processes over ``connection`` at ``path``."""

    def __init__(self, path: Path, connection: asyncssh.SSHClientConnection) -> None:
        self._path = path
        self._connection = connection
        self._server: asyncio.Server | None = None
        self._inode: int | None = None

    async def open(self) -> None:
        """Listen (replacing a socket left by an earlier holder)."""
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, str(self._path))
        os.chmod(self._path, 0o600)
        self._inode = self._path.stat().st_ino

    def close(self) -> None:
        """Stop listening; the socket file goes unless a newer holder replaced it."""
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(OSError):
            if self._path.stat().st_ino == self._inode:
                self._path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # see ChannelTunnel._serve
            await self._carry(reader, writer)

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncssh

        try:
            words = (await asyncio.wait_for(reader.readline(), HEADER_SECONDS)).decode().split()
            if len(words) == 2 and words[0] == "unix":
                far_reader, far_writer = await self._connection.open_unix_connection(words[1])
            elif len(words) == 3 and words[0] == "tcp":
                far_reader, far_writer = await self._connection.open_connection(
                    words[1], int(words[2])
                )
            else:
                raise ValueError(f"bad relay header {words!r}")
        except (asyncssh.Error, OSError, ValueError, TimeoutError) as exc:
            log.warning("agent relay: %s", exc)
            writer.close()
            return
        await splice(reader, writer, far_reader, far_writer)


async def open_relayed(
    path: Path, header: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection through the holder at ``path`` to the channel ``header`` names.

    Raises:
        OSError: no process holds the tunnel (no socket, or nobody listening).
    """
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(f"{header}\n".encode())
    return reader, writer
