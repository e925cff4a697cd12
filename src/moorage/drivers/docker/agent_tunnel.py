"""Docker through an agent's outbound tunnel (``agent://<node>`` environments, issue 15).

``moorage agent run --docker`` keeps one websocket open to the hub
(``GET /api/v1/agents/tunnel``, authenticated by the node's credential). The agent
runs an SSH *server* on it (asyncssh's reverse direction) and the hub an SSH
client, so the hub opens channels towards the machine although nothing listens
there: ``direct-streamlocal`` to its Docker socket, ``direct-tcpip`` to its
loopback ports (see :mod:`moorage.agent.docker_tunnel` for what the agent allows).
SSH is used here only for its channels: multiplexing and per-channel flow control
over one byte stream, which a library does better than Moorage would. The outer
websocket is what is authenticated (the node's credential; TLS where the hub
serves HTTPS); the inner SSH layer pins no host key and logs in with none.

:class:`AgentConnections` holds the live connection of each node that dialled in,
in this process (and offers them to the other processes of its data directory,
:mod:`.agent_relay`); :class:`AgentTunnel` is the environment's transport over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from moorage.drivers.docker.agent_relay import Relay, open_relayed, relay_path
from moorage.drivers.docker.channel_tunnel import MAX_FORWARDS, ChannelTunnel, splice
from moorage.errors import InvalidInput, RuntimeUnavailable

if TYPE_CHECKING:
    import asyncssh

__all__ = ["AgentConnections", "AgentTunnel", "parse_agent_url"]

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/docker.sock"
HANDSHAKE_SECONDS = 15.0


def parse_agent_url(url: str) -> tuple[str, str]:
    """``agent://<node>[/path/to/docker.sock]`` → ``(node name, socket path)``.

    Raises:
        InvalidInput: not an ``agent://`` URL, or no node name (field ``url``).
    """
    rest = url.removeprefix("agent://")
    node, _, path = rest.partition("/")
    if not url.startswith("agent://") or not node:
        raise InvalidInput("an agent url is agent://<node name>", field="url")
    return node, f"/{path}" if path else DEFAULT_SOCKET


class AgentConnections:
    """The SSH connections that agents opened to this process, by (org id, node name).

    A node that dials in again replaces its older connection (which is closed). With
    ``relay_folder`` (the data directory's), each tunnel held here is offered to the
    other processes of that directory too (:mod:`.agent_relay`).
    """

    def __init__(self, relay_folder: Path | None = None) -> None:
        self._live: dict[tuple[str, str], asyncssh.SSHClientConnection] = {}
        self._changed = asyncio.Condition()
        self.relay_folder = relay_folder

    def relay_path(self, org_id: str, node: str) -> Path | None:
        """Where the process holding the node's tunnel serves the others (see
        :func:`.agent_relay.relay_path`)."""
        return relay_path(self.relay_folder, org_id, node)

    def connected(self, org_id: str, node: str) -> bool:
        """Whether the node's agent holds a tunnel to this process now."""
        connection = self._live.get((org_id, node))
        return connection is not None and not connection.is_closed()

    async def connection(
        self, org_id: str, node: str, wait_seconds: float
    ) -> asyncssh.SSHClientConnection:
        """The node's live connection, waiting up to ``wait_seconds`` for it to dial
        in (an agent reconnecting after a cut).

        Raises:
            RuntimeUnavailable: the node's agent is not connected to this process.
        """

        def live() -> asyncssh.SSHClientConnection | None:
            connection = self._live.get((org_id, node))
            return connection if connection is not None and not connection.is_closed() else None

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(live), wait_seconds)
            found = live()
        if found is None:
            raise RuntimeUnavailable(
                "the agent of node %(node)s is not connected (run `moorage agent run "
                "--docker` there)",
                params={"node": node},
                code="agent_not_connected",
            )
        return found

    async def serve(
        self,
        org_id: str,
        node: str,
        receive: Callable[[], Awaitable[bytes | None]],
        send: Callable[[bytes], Awaitable[None]],
        on_up: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Run the hub's end of one agent's tunnel until it closes: ``receive`` gives
        the websocket's next binary message (None once it closed), ``send`` sends one;
        ``on_up`` is awaited once the tunnel carries calls (its failure is logged).

        Raises:
            RuntimeUnavailable: the SSH handshake over the websocket failed.
        """
        import asyncssh

        from moorage.agent.docker_tunnel import bridge

        ours, theirs = socket.socketpair()
        carried = asyncio.create_task(bridge(theirs, receive, send))
        try:
            connection = await asyncio.wait_for(
                asyncssh.connect(
                    node,  # a name for asyncssh's logs: a socket pair has no peer address
                    sock=ours,
                    username="moorage",
                    known_hosts=None,
                    client_keys=None,
                    agent_path=None,
                    password=None,
                    config=None,
                    keepalive_interval=15,
                    keepalive_count_max=3,
                ),
                HANDSHAKE_SECONDS,
            )
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            carried.cancel()
            ours.close()
            raise RuntimeUnavailable(
                "the agent of node %(node)s did not complete the tunnel's handshake: %(error)s",
                params={"node": node, "error": str(exc) or type(exc).__name__},
            ) from exc
        key = (org_id, node)
        async with self._changed:
            older = self._live.get(key)
            self._live[key] = connection
            self._changed.notify_all()
        if older is not None:
            older.close()
        log.info("agent tunnel of node %s is up", node)
        closed = asyncio.create_task(connection.wait_closed())
        where = self.relay_path(org_id, node)
        relay = Relay(where, connection) if where is not None else None
        try:
            if relay is not None:
                await relay.open()
            if on_up is not None:
                try:
                    await on_up()
                except Exception:
                    log.warning("after the tunnel of node %s came up", node, exc_info=True)
            await asyncio.wait({carried, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if relay is not None:
                relay.close()
            connection.close()
            carried.cancel()
            closed.cancel()
            async with self._changed:
                if self._live.get(key) is connection:
                    del self._live[key]
                self._changed.notify_all()
            log.info("agent tunnel of node %s is down", node)

    def drop(self, org_id: str, node: str | None = None) -> None:
        """Close the tunnel of ``node`` (every node of the org when None): its
        credential was revoked."""
        for (org, name), connection in list(self._live.items()):
            if org == org_id and node in (None, name):
                connection.close()

    def close(self) -> None:
        """Close every tunnel (the server is stopping)."""
        for connection in self._live.values():
            connection.close()
        self._live.clear()


class AgentTunnel(ChannelTunnel):
    """An environment's transport over the tunnel of its node's agent: held by this
    process, or by another of the same data directory (through its relay).

    Args:
        connections: where this process keeps the agents' connections.
        org_id, node: whose agent (the environment's org and the node's name).
        socket_path: the engine's socket on the machine (the agent allows only the
            one it was told to).
        wait_seconds: how long a Docker call waits for an agent that is reconnecting.
    """

    def __init__(
        self,
        connections: AgentConnections,
        org_id: str,
        node: str,
        socket_path: str = DEFAULT_SOCKET,
        *,
        wait_seconds: float = 5.0,
    ) -> None:
        super().__init__(node, socket_path)
        self._connections = connections
        self._org_id = org_id
        self._node = node
        self._wait = wait_seconds
        self._relayed: OrderedDict[tuple[str, int], asyncio.Server] = OrderedDict()

    async def _connect(self) -> asyncssh.SSHClientConnection:
        return await self._connections.connection(self._org_id, self._node, self._wait)

    def _elsewhere(self) -> Path | None:
        """The relay of another process holding the tunnel, when this one holds none."""
        if self._connections.connected(self._org_id, self._node):
            return None
        path = self._connections.relay_path(self._org_id, self._node)
        return path if path is not None and path.exists() else None

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        path = self._elsewhere()
        if path is not None:
            try:
                far_reader, far_writer = await open_relayed(path, f"unix {self._socket_path}")
            except OSError:
                pass  # a socket left by a process that stopped: wait here instead
            else:
                await _quietly(splice(reader, writer, far_reader, far_writer))
                return
        await super()._carry(reader, writer)

    async def forward(self, remote_host: str, remote_port: int) -> tuple[str, int]:
        """As :meth:`ChannelTunnel.forward`, through the relay when another process
        holds the tunnel."""
        path = self._elsewhere()
        if path is None:
            return await super().forward(remote_host, remote_port)
        key = (remote_host, remote_port)
        listener = self._relayed.get(key)
        if listener is None:

            async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                try:
                    far = await open_relayed(path, f"tcp {remote_host} {remote_port}")
                except OSError:
                    writer.close()
                    return
                await _quietly(splice(reader, writer, *far))

            listener = await asyncio.start_server(serve, "127.0.0.1", 0)
            self._relayed[key] = listener
            while len(self._relayed) > MAX_FORWARDS:
                self._relayed.popitem(last=False)[1].close()
        self._relayed.move_to_end(key)
        return "127.0.0.1", listener.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for listener in self._relayed.values():
            listener.close()
        self._relayed.clear()
        await super().close()


async def _quietly(carrying: Awaitable[None]) -> None:
    """Await ``carrying``; a cancellation (the tunnel closing) ends it quietly (see
    :meth:`ChannelTunnel._serve`)."""
    with contextlib.suppress(asyncio.CancelledError):
        await carrying
