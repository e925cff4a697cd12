"""Docker over SSH (``ssh://user@host[:port]``), as ``docker -H ssh://…`` does it.

A :class:`SSHTunnel` listens on a private local Unix socket; each connection to it
is carried over one SSH connection (asyncssh, key login, pinned host key) to the
engine's socket on the far host (``/var/run/docker.sock`` unless the URL's path
names another). The SSH connection is opened on first use and again after it
drops, so aiodocker sees an ordinary ``unix://`` endpoint.

asyncssh's own ``forward_local_path`` needs the connection up before it listens;
the reconnecting listener here is the part it lacks.

The gateway reaches a workspace's published port on the far host through the same
connection (:meth:`SSHTunnel.forward`: asyncssh's ``forward_local_port``, SSH's
``direct-tcpip`` channel), so the far host publishes nothing beyond its loopback.
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from moorage.errors import InvalidInput, RuntimeUnavailable

if TYPE_CHECKING:
    import asyncssh

# asyncssh (and its cryptography) is imported where it is used: a server with no
# SSH environment or machine pool never loads it.

__all__ = ["SSHEndpoint", "SSHTunnel", "fetch_host_key", "parse_ssh_url"]

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/docker.sock"
MAX_FORWARDS = 256
"""Local listeners (one per far port in use) an :class:`SSHTunnel` keeps at most."""


@dataclass(frozen=True)
class SSHEndpoint:
    """Where to log in (``user@host:port``) and the engine socket's path there."""

    user: str
    host: str
    port: int
    socket_path: str


def parse_ssh_url(url: str) -> SSHEndpoint:
    """``ssh://user@host[:port][/path/to/docker.sock]`` → :class:`SSHEndpoint`.

    Raises:
        InvalidInput: no user or host, or a bad port.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or 22
    except ValueError as exc:
        raise InvalidInput(f"bad port in {url!r}", field="url") from exc
    if parts.scheme != "ssh" or not parts.username or not parts.hostname:
        raise InvalidInput("an SSH url is ssh://user@host[:port]", field="url")
    return SSHEndpoint(parts.username, parts.hostname, port, parts.path or DEFAULT_SOCKET)


async def fetch_host_key(endpoint: SSHEndpoint, timeout_seconds: float = 10.0) -> str:
    """The host key the server presents, in OpenSSH public-key format, to pin.

    Raises:
        RuntimeUnavailable: the host does not answer an SSH handshake in time.
    """
    import asyncssh

    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(endpoint.host, endpoint.port), timeout_seconds
        )
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise RuntimeUnavailable(
            f"{endpoint.host}:{endpoint.port} did not answer SSH ({type(exc).__name__}: {exc})",
            code="environment_unreachable",
        ) from exc
    if key is None:
        raise RuntimeUnavailable(f"{endpoint.host}:{endpoint.port} presented no host key")
    return key.export_public_key().decode().strip()


class SSHTunnel:
    """A local Unix socket whose connections reach the remote engine's socket.

    Args:
        endpoint: where to log in and which socket to reach there.
        private_key: the login key (OpenSSH or PEM text).
        host_key: the pinned host key (OpenSSH public-key text); a different key is
            refused.
        connect_timeout_seconds: TCP connect plus SSH handshake and login.
    """

    def __init__(
        self,
        endpoint: SSHEndpoint,
        private_key: str,
        host_key: str,
        *,
        connect_timeout_seconds: float = 10.0,
    ) -> None:
        import asyncssh

        self._endpoint = endpoint
        self._key = asyncssh.import_private_key(private_key)
        self._host_key = asyncssh.import_public_key(host_key)
        self._timeout = connect_timeout_seconds
        self._connection: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._folder = Path(tempfile.mkdtemp(prefix="moorage-ssh-"))
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
        import asyncssh

        async with self._lock:
            if self._connection is not None and not self._connection.is_closed():
                return self._connection
            where = f"{self._endpoint.user}@{self._endpoint.host}:{self._endpoint.port}"
            try:
                self._connection = await asyncssh.connect(
                    self._endpoint.host,
                    self._endpoint.port,
                    username=self._endpoint.user,
                    client_keys=[self._key],
                    known_hosts=([self._host_key], [], []),
                    agent_path=None,
                    password=None,
                    connect_timeout=self._timeout,
                    keepalive_interval=15,
                    keepalive_count_max=3,
                )
            except asyncssh.HostKeyNotVerifiable as exc:
                raise RuntimeUnavailable(
                    f"{where} presented a host key other than the pinned one; save the "
                    "environment again with reset_host_key to trust the new key",
                    code="host_key_mismatch",
                ) from exc
            except asyncssh.PermissionDenied as exc:
                raise RuntimeUnavailable(f"{where} refused the key login") from exc
            except (OSError, asyncssh.Error, TimeoutError) as exc:
                raise RuntimeUnavailable(
                    f"{where} is unreachable ({type(exc).__name__}: {exc})"
                ) from exc
            self.last_error = None
            return self._connection

    async def forward(self, remote_host: str, remote_port: int) -> tuple[str, int]:
        """A port on this host's loopback whose connections are carried over the SSH
        connection to ``remote_host:remote_port`` as the far host sees it (a
        ``direct-tcpip`` channel each, RFC 4254 7.2). One listener per far port, kept
        while its connection lives; the oldest is closed past
        :data:`MAX_FORWARDS` (connections already made through it go on).

        Raises:
            RuntimeUnavailable: the SSH connection cannot be made.
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
                    params={"host": self._endpoint.host, "port": remote_port, "error": str(exc)},
                ) from exc
            self._forwards[key] = (connection, listener)
            while len(self._forwards) > MAX_FORWARDS:
                _, (_, oldest) = self._forwards.popitem(last=False)
                oldest.close()
            return "127.0.0.1", listener.get_port()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import asyncssh

        try:
            connection = await self._connect()
            remote_reader, remote_writer = await connection.open_unix_connection(
                self._endpoint.socket_path
            )
        except (RuntimeUnavailable, asyncssh.Error, OSError) as exc:
            # aiodocker sees the connection close; the status check reads last_error.
            self.last_error = exc.message if isinstance(exc, RuntimeUnavailable) else str(exc)
            log.warning("SSH tunnel to %s: %s", self._endpoint.host, self.last_error)
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._pipes.add(task)
        try:
            await asyncio.gather(
                _pipe(reader, remote_writer), _pipe(remote_reader, writer), return_exceptions=True
            )
        finally:
            writer.close()
            remote_writer.close()
            if task is not None:
                self._pipes.discard(task)

    async def close(self) -> None:
        """Stop listening, cut open connections and the SSH connection."""
        server = await self._server_task
        server.close()
        for task in list(self._pipes):
            task.cancel()
        for _, listener in self._forwards.values():
            listener.close()
        self._forwards.clear()
        if self._connection is not None:
            self._connection.close()
            with contextlib.suppress(Exception):
                await self._connection.wait_closed()
        shutil.rmtree(self._folder, ignore_errors=True)


async def _pipe(
    reader: asyncio.StreamReader | asyncssh.SSHReader[bytes],
    writer: asyncio.StreamWriter | asyncssh.SSHWriter[bytes],
) -> None:
    import asyncssh

    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError, asyncssh.Error):
                writer.write_eof()
