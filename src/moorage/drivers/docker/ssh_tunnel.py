"""Docker over SSH (``ssh://user@host[:port]``), as ``docker -H ssh://…`` does it.

An :class:`SSHTunnel` carries each connection to its local Unix socket over one SSH
connection (asyncssh, key login, pinned host key) to the engine's socket on the far
host (``/var/run/docker.sock`` unless the URL's path names another); the listener,
the channels and :meth:`~ChannelTunnel.forward` are :class:`ChannelTunnel`'s. The SSH
connection is opened on first use and again after it drops.

The gateway reaches a workspace's published port on the far host through the same
connection (``direct-tcpip``), so the far host publishes nothing beyond its loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from moorage.drivers.docker.channel_tunnel import ChannelTunnel
from moorage.errors import InvalidInput, RuntimeUnavailable

if TYPE_CHECKING:
    import asyncssh

# asyncssh (and its cryptography) is imported where it is used: a server with no
# SSH environment or machine pool never loads it.

__all__ = ["SSHEndpoint", "SSHTunnel", "fetch_host_key", "parse_ssh_url"]

DEFAULT_SOCKET = "/var/run/docker.sock"


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


class SSHTunnel(ChannelTunnel):
    """A local Unix socket whose connections reach the remote engine's socket over an
    SSH login.

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

        super().__init__(endpoint.host, endpoint.socket_path)
        self._endpoint = endpoint
        self._key = asyncssh.import_private_key(private_key)
        self._host_key = asyncssh.import_public_key(host_key)
        self._timeout = connect_timeout_seconds
        self._connection: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()

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

    async def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            with contextlib.suppress(Exception):
                await self._connection.wait_closed()
