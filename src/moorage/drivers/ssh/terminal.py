"""A terminal over SSH: an interactive shell with a PTY (asyncssh), as a TerminalStream."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moorage.drivers.base import TerminalStream
from moorage.errors import RuntimeUnavailable

if TYPE_CHECKING:
    import asyncssh

# asyncssh (and its cryptography) is imported where it is used: a server with no
# SSH environment or machine pool never loads it.

__all__ = ["SSHTerminal", "open_ssh_terminal"]


class SSHTerminal(TerminalStream):
    """The shell of one SSH session; closing it closes the connection."""

    def __init__(
        self, connection: asyncssh.SSHClientConnection, process: asyncssh.SSHClientProcess[bytes]
    ) -> None:
        self._connection = connection
        self._process = process
        self._closed = False

    async def read(self) -> bytes | None:
        data = await self._process.stdout.read(65536)
        return data or None

    async def write(self, data: bytes) -> None:
        self._process.stdin.write(data)
        await self._process.stdin.drain()

    async def resize(self, cols: int, rows: int) -> None:
        import asyncssh

        try:
            self._process.change_terminal_size(cols, rows)
        except (OSError, asyncssh.Error):
            pass  # the shell ended; a late resize is harmless

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._process.close()
            self._connection.close()


async def open_ssh_terminal(
    host: str,
    port: int,
    username: str,
    password: str,
    *,
    cols: int,
    rows: int,
    connect_timeout_seconds: float = 10.0,
) -> SSHTerminal:
    """Log in with a password and start a login shell on an ``xterm-256color`` PTY.

    The host key is not checked: the server is a workspace container Moorage
    itself just started, reached through a port published on the host.

    Raises:
        RuntimeUnavailable: unreachable, login refused or timed out.
    """
    import asyncssh

    try:
        connection = await asyncssh.connect(
            host,
            port,
            username=username,
            password=password,
            known_hosts=None,
            client_keys=None,
            agent_path=None,
            connect_timeout=connect_timeout_seconds,
            keepalive_interval=30,
        )
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise RuntimeUnavailable(f"the workspace's sshd refused the terminal: {exc}") from exc
    try:
        process = await connection.create_process(
            term_type="xterm-256color", term_size=(cols, rows), encoding=None
        )
    except (OSError, asyncssh.Error) as exc:
        connection.close()
        raise RuntimeUnavailable(f"the workspace's sshd refused a shell: {exc}") from exc
    return SSHTerminal(connection, process)
