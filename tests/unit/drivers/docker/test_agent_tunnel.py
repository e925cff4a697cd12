"""The agent's Docker tunnel, both ends in one process: the hub's
:class:`AgentConnections` and the agent's SSH server (``moorage.agent.docker_tunnel``)
joined by two queues standing in for the websocket. What the agent allows (its Docker
socket, loopback ports) goes through; anything else is refused on the agent's side,
before it connects anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from moorage.agent.docker_tunnel import _server_class, bridge, tunnel_url
from moorage.drivers.docker.agent_tunnel import AgentConnections, AgentTunnel, parse_agent_url
from moorage.drivers.fake import FakeDriver
from moorage.errors import InvalidInput, RuntimeUnavailable
from moorage.services.docker.environments import kind_of
from tests.unit.gateway.test_terminal import _app

ORG, NODE = "org-1", "lab-7"


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def tunnel_up(
    docker_socket: str, connections: AgentConnections | None = None
) -> AsyncIterator[tuple[AgentConnections, asyncio.Task]]:
    """A hub (``connections``, or new ones) and an agent serving ``docker_socket``,
    connected."""
    to_hub: asyncio.Queue[bytes | None] = asyncio.Queue()
    to_agent: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def hub_send(data: bytes) -> None:
        await to_agent.put(data)

    async def agent_send(data: bytes) -> None:
        await to_hub.put(data)

    connections = connections or AgentConnections()
    hub = asyncio.create_task(connections.serve(ORG, NODE, to_hub.get, hub_send))
    ours, theirs = socket.socketpair()
    carried = asyncio.create_task(bridge(theirs, to_agent.get, agent_send))
    server = await asyncssh.connect_reverse(
        sock=ours,
        config=None,
        server_factory=_server_class(docker_socket),
        server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
    )
    try:
        await connections.connection(ORG, NODE, 5)
        yield connections, hub
    finally:
        server.close()
        carried.cancel()
        await to_hub.put(None)
        with contextlib.suppress(asyncio.CancelledError, RuntimeUnavailable):
            await asyncio.wait_for(hub, 5)


async def assert_reaches(tunnel: AgentTunnel, port: int) -> None:
    """Bytes go through ``tunnel`` to the echoing engine socket and loopback ``port``."""
    reader, writer = await asyncio.open_unix_connection(str(tunnel.path))
    writer.write(b"GET /_ping")
    assert await reader.readexactly(10) == b"GET /_ping"
    writer.close()
    host, local = await tunnel.forward("127.0.0.1", port)
    reader, writer = await asyncio.open_connection(host, local)
    writer.write(b"hello")
    assert await reader.readexactly(5) == b"hello"
    writer.close()


@pytest.fixture
def folder() -> AsyncIterator[Path]:
    # Short: a Unix socket's path is at most 107 bytes.
    with tempfile.TemporaryDirectory(prefix="mt-") as name:
        yield Path(name)


async def test_the_docker_socket_and_loopback_ports_are_reached_through_the_tunnel(folder):
    docker_socket = str(folder / "docker.sock")
    engine = await asyncio.start_unix_server(_echo, docker_socket)
    app = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = app.sockets[0].getsockname()[1]
    async with tunnel_up(docker_socket) as (connections, _):
        tunnel = AgentTunnel(connections, ORG, NODE, docker_socket)
        try:
            await assert_reaches(tunnel, port)
        finally:
            await tunnel.close()
    engine.close()
    app.close()


async def test_the_agent_refuses_other_sockets_other_hosts_and_any_shell(folder):
    docker_socket = str(folder / "docker.sock")
    other = str(folder / "other.sock")
    servers = [await asyncio.start_unix_server(_echo, path) for path in (docker_socket, other)]
    async with tunnel_up(docker_socket) as (connections, _):
        connection = await connections.connection(ORG, NODE, 1)
        with pytest.raises(asyncssh.ChannelOpenError):
            await connection.open_unix_connection(other)
        # A documentation address (RFC 5737): refused before any packet leaves.
        with pytest.raises(asyncssh.ChannelOpenError):
            await connection.open_connection("192.0.2.1", 2375)
        with pytest.raises(asyncssh.ChannelOpenError):
            await connection.run("id")
    for server in servers:
        server.close()


async def test_a_call_waits_for_a_reconnecting_agent_then_says_it_is_not_connected(folder):
    connections = AgentConnections()
    with pytest.raises(RuntimeUnavailable) as missing:
        await connections.connection(ORG, NODE, 0.2)
    assert missing.value.code == "agent_not_connected"
    assert not connections.connected(ORG, NODE)
    docker_socket = str(folder / "docker.sock")
    # A call made while the agent is away is served once it dials in.
    waiting = asyncio.create_task(connections.connection(ORG, NODE, 10))
    await asyncio.sleep(0.1)
    async with tunnel_up(docker_socket, connections):
        connection = await asyncio.wait_for(waiting, 5)
        assert not connection.is_closed() and connections.connected(ORG, NODE)
    assert not connections.connected(ORG, NODE)  # gone once the tunnel closed


def test_agent_urls_and_the_tunnel_url():
    assert parse_agent_url("agent://lab-7") == ("lab-7", "/var/run/docker.sock")
    assert parse_agent_url("agent://lab-7/run/user/1000/docker.sock") == (
        "lab-7",
        "/run/user/1000/docker.sock",
    )
    with pytest.raises(InvalidInput):
        parse_agent_url("agent:///var/run/docker.sock")
    assert kind_of("agent://lab-7") == "agent"
    with pytest.raises(InvalidInput):
        kind_of("agent://")
    assert tunnel_url("https://hub.example:8443/moorage/") == (
        "wss://hub.example:8443/moorage/api/v1/agents/tunnel"
    )
    assert tunnel_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/api/v1/agents/tunnel"


def test_a_tunnel_without_a_valid_credential_is_refused_before_the_upgrade(tmp_path):
    with TestClient(
        _app(tmp_path, FakeDriver()), headers={"Origin": "http://testserver"}
    ) as client:
        # A person's API token, even an admin's, is no node's credential.
        client.post("/api/v1/auth/login", json={"username": "admin", "password": "gateway-test-pw"})
        person = client.post("/api/v1/tokens", json={"name": "not-an-agent"}).json()["token"]
        client.post("/api/v1/auth/logout")
        client.cookies.clear()
        for headers in (
            {},
            {"Authorization": "Bearer mag_nothing_like_a_credential"},
            {"Authorization": f"Bearer {person}"},
        ):
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect("/api/v1/agents/tunnel", headers=headers),
            ):
                pass
            assert refused.value.code == 4401
        rows = client.get("/api/v1/environments")
        assert rows.status_code == 401  # not signed in; nothing else to see here


async def test_a_stalled_channel_does_not_stall_the_others_and_drop_closes_the_tunnel(folder):
    """A log stream nobody reads fills its own SSH window (RFC 4254 5.2) and waits;
    another channel (an exec's input and output) keeps flowing beside it."""
    docker_socket = str(folder / "docker.sock")
    flood = 16 * 1024 * 1024  # far past one channel's window

    async def logs(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            writer.write(b"x" * flood)
            await writer.drain()
        writer.close()

    engine = await asyncio.start_unix_server(logs, docker_socket)
    app = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = app.sockets[0].getsockname()[1]
    async with tunnel_up(docker_socket) as (connections, _):
        connection = await connections.connection(ORG, NODE, 1)
        stalled_reader, _stalled = await connection.open_unix_connection(docker_socket)
        assert len(await stalled_reader.read(1024)) > 0  # flowing, then left unread
        reader, writer = await connection.open_connection("127.0.0.1", port)
        for n in range(50):
            writer.write(f"line {n}\n".encode())
            assert await asyncio.wait_for(reader.readline(), 2) == f"line {n}\n".encode()
        connections.drop(ORG)
        await asyncio.wait_for(connection.wait_closed(), 5)
        assert not connections.connected(ORG, NODE)
    engine.close()
    app.close()


async def test_another_process_of_the_data_directory_reaches_the_tunnel_through_its_relay(
    folder,
):
    """The holder (``holder``) and another process (``other``) share a data directory:
    ``other`` holds no tunnel, yet its environment's Docker socket and ports work."""
    docker_socket = str(folder / "docker.sock")
    engine = await asyncio.start_unix_server(_echo, docker_socket)
    app = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = app.sockets[0].getsockname()[1]
    holder, other = AgentConnections(folder / "tunnels"), AgentConnections(folder / "tunnels")
    async with tunnel_up(docker_socket, holder):
        relay = holder.relay_path(ORG, NODE)
        assert relay is not None and relay.exists() and (relay.stat().st_mode & 0o777) == 0o600
        assert not other.connected(ORG, NODE)
        tunnel = AgentTunnel(other, ORG, NODE, docker_socket, wait_seconds=0.5)
        try:
            await assert_reaches(tunnel, port)
        finally:
            await tunnel.close()
    assert not relay.exists()  # the holder's relay went with its tunnel
    engine.close()
    app.close()
