"""SSHTunnel.forward: a workspace port on the far host reached over the environment's
SSH connection (a ``direct-tcpip`` channel per connection), against an asyncssh
server on loopback that allows forwarding as OpenSSH's default does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncssh
import pytest

from moorage.drivers.docker.driver import DockerDriver
from moorage.drivers.docker.ssh_tunnel import SSHEndpoint, SSHTunnel


class _Forwarding(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True  # the client key below must be presented

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        return dest_host == "127.0.0.1"  # plain forwarding to the far host's loopback


@dataclass
class Far:
    """An SSH server and a service on its loopback that answers ``pong:<line>``."""

    ssh_port: int
    service_port: int
    host_key: str
    client_key: str
    server: asyncssh.SSHAcceptor


@pytest.fixture
async def far() -> AsyncIterator[Far]:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")

    async def pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(b"pong:" + line)
        await writer.drain()
        writer.close()

    service = await asyncio.start_server(pong, "127.0.0.1", 0)
    server = await asyncssh.create_server(
        _Forwarding,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
    )
    try:
        yield Far(
            ssh_port=server.sockets[0].getsockname()[1],
            service_port=service.sockets[0].getsockname()[1],
            host_key=host_key.export_public_key().decode(),
            client_key=client_key.export_private_key().decode(),
            server=server,
        )
    finally:
        server.close()
        service.close()


def tunnel_to(far: Far) -> SSHTunnel:
    return SSHTunnel(
        SSHEndpoint("dock", "127.0.0.1", far.ssh_port, "/var/run/docker.sock"),
        far.client_key,
        far.host_key,
    )


async def ask(address: tuple[str, int], line: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    writer.write(line + b"\n")
    answer = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return answer


async def test_a_far_port_is_reached_through_one_local_listener(far: Far):
    tunnel = tunnel_to(far)
    try:
        local = await tunnel.forward("127.0.0.1", far.service_port)
        assert local[0] == "127.0.0.1" and local[1] != far.service_port
        assert await ask(local, b"one") == b"pong:one\n"
        # The same far port keeps its listener; every connection is its own channel.
        assert await tunnel.forward("127.0.0.1", far.service_port) == local
        answers = await asyncio.gather(*(ask(local, f"{i}".encode()) for i in range(5)))
        assert sorted(answers) == [f"pong:{i}\n".encode() for i in range(5)]
    finally:
        await tunnel.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(*local)  # closed with the tunnel


async def test_a_new_connection_gets_new_listeners(far: Far):
    tunnel = tunnel_to(far)
    try:
        first = await tunnel.forward("127.0.0.1", far.service_port)
        connection = await tunnel._connect()
        connection.close()
        await connection.wait_closed()
        second = await tunnel.forward("127.0.0.1", far.service_port)
        assert await ask(second, b"again") == b"pong:again\n"
        assert second != first
    finally:
        await tunnel.close()


async def test_a_refused_forward_is_a_clear_error(far: Far):
    from moorage.errors import RuntimeUnavailable

    tunnel = tunnel_to(far)
    try:
        local = await tunnel.forward("192.0.2.1", 80)  # the server refuses this channel
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError, OSError)):
            reader, writer = await asyncio.open_connection(*local)
            writer.write(b"x\n")
            if not await asyncio.wait_for(reader.read(1), 5):
                raise ConnectionResetError("closed at once")
        bad = SSHTunnel(
            SSHEndpoint("dock", "127.0.0.1", far.service_port, "/var/run/docker.sock"),
            far.client_key,
            far.host_key,
            connect_timeout_seconds=2,
        )
        try:
            with pytest.raises(RuntimeUnavailable, match="unreachable"):
                await bad.forward("127.0.0.1", far.service_port)
        finally:
            await bad.close()
    finally:
        await tunnel.close()


async def test_a_driver_without_transport_reaches_the_published_port_itself():
    driver = DockerDriver(client=None, endpoint="unix:///var/run/docker.sock")  # type: ignore[arg-type]
    assert await driver.reach(49153, "127.0.0.1") == ("127.0.0.1", 49153)
