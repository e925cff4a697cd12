"""The RFB (VNC) handshake Moorage completes with a workspace's VNC server.

Used twice: by the ``vnc`` kind to tell when a desktop is ready (a full
handshake with the session's password succeeds), and by the desktop gateway
(:mod:`moorage.gateway.desktop`), which opens the container's side here.

The browser (noVNC) is offered security type None; Moorage answers the
container's VNC Authentication challenge itself with the session's password,
so the password never reaches the browser. After both handshakes the bytes
are passed through unchanged (ClientInit, ServerInit and the rest).

Protocol: RFC 6143 (RFB 3.8) section 7.1 (handshake), 7.2.2 (VNC Authentication).
"""

from __future__ import annotations

import asyncio
import struct

from moorage.errors import RuntimeUnavailable

__all__ = [
    "RFB_VERSION",
    "SECURITY_NONE",
    "SECURITY_VNC",
    "open_vnc",
    "server_handshake",
    "vnc_auth_response",
]

RFB_VERSION = b"RFB 003.008\n"
SECURITY_NONE = 1
SECURITY_VNC = 2


def vnc_auth_response(password: str, challenge: bytes) -> bytes:
    """The 16-byte answer to a VNC Authentication challenge (RFC 6143, 7.2.2).

    The key is the password's first 8 bytes (zero-padded) with the bits of each
    byte reversed, a quirk of the original VNC DES implementation; the challenge
    is encrypted with single DES in ECB mode (TripleDES with K1=K2=K3).
    """
    # cryptography's Rust core is MBs of memory: loaded when a desktop is opened.
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = password.encode("latin-1", errors="replace")[:8].ljust(8, b"\0")
    key = bytes(int(f"{byte:08b}"[::-1], 2) for byte in key)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


async def _read(reader: asyncio.StreamReader, count: int, what: str) -> bytes:
    try:
        return await reader.readexactly(count)
    except asyncio.IncompleteReadError as exc:
        raise RuntimeUnavailable(f"the desktop closed the connection during {what}") from exc


async def server_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, password: str
) -> None:
    """Complete the RFB 3.8 handshake with a VNC server using VNC Authentication.

    Raises:
        RuntimeUnavailable: the server speaks another protocol, offers no VNC
            Authentication, or refuses the password (with its reason).
    """
    version = await _read(reader, 12, "the version exchange")
    if not version.startswith(b"RFB 003."):
        raise RuntimeUnavailable(f"the desktop is not a VNC server (greeting {version!r})")
    writer.write(RFB_VERSION)
    await writer.drain()
    (count,) = await _read(reader, 1, "the security offer")
    if count == 0:
        (length,) = struct.unpack(">I", await _read(reader, 4, "the failure reason"))
        reason = (await _read(reader, length, "the failure reason")).decode(errors="replace")
        raise RuntimeUnavailable(f"the desktop refused the connection: {reason}")
    offered = await _read(reader, count, "the security offer")
    if SECURITY_VNC not in offered:
        raise RuntimeUnavailable(f"the desktop offers no VNC Authentication ({list(offered)})")
    writer.write(bytes([SECURITY_VNC]))
    challenge = await _read(reader, 16, "the authentication challenge")
    writer.write(vnc_auth_response(password, challenge))
    await writer.drain()
    (result,) = struct.unpack(">I", await _read(reader, 4, "the security result"))
    if result != 0:
        raise RuntimeUnavailable("the desktop refused the session's VNC password")


async def open_vnc(
    host: str, port: int, password: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to a VNC server at ``host:port`` and authenticate with ``password``;
    returns the stream just before ClientInit (the caller closes the writer).

    Raises:
        RuntimeUnavailable: unreachable within 10 s, or the handshake failed or
            took more than 10 s.
    """
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    except (OSError, TimeoutError) as exc:
        raise RuntimeUnavailable(f"the desktop does not answer on port {port}: {exc}") from exc
    try:
        await asyncio.wait_for(server_handshake(reader, writer, password), 10)
    except BaseException:
        writer.close()
        raise
    return reader, writer
