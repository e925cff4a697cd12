"""What each kind of workspace needs from its container, and when it is ready.

* ``terminal``: no port; ready when a command runs as the shell user (Docker exec).
* ``http``: a web app on the template's port, started with
  ``MOORAGE_BASE_URL=/s/<session-id>/`` and served there by Moorage's reverse
  proxy; ready when that URL answers 200 (redirects followed).
* ``vnc``: Xvnc on port 5901 with a generated password (``VNC_PASSWORD``,
  ``images/desktop``); ready when Moorage completes the VNC handshake with it.
* ``rdp``: xrdp on port 3389 with the template's account and a generated
  password (``RDP_USER``/``RDP_PASSWORD``, ``images/rdp``); ready when the port
  answers an X.224 connection request with a TPKT packet.
* ``ssh``: sshd on port 22, published on the publish address; a generated
  password for the template's account, given to the image's entrypoint as
  ``SSH_USER``/``SSH_PASSWORD`` (``images/sshd``); ready when the SSH banner
  (``SSH-2.0-…``, RFC 4253 section 4.2) is read through the published port.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from moorage.errors import RuntimeUnavailable
from moorage.models.template import TemplateKind

__all__ = [
    "KINDS",
    "KindProfile",
    "base_url",
    "wait_for_banner",
    "wait_for_http_ok",
    "wait_for_rdp",
]

# What sshd needs after every capability is dropped: switch users, chroot its
# privilege-separation child, own and read users' files, write audit records.
SSHD_CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETUID",
    "SETGID",
    "SYS_CHROOT",
    "AUDIT_WRITE",
    "KILL",
)


# xrdp and xrdp-sesman: switch to the user, own its files, start its X server.
XRDP_CAPABILITIES = (*SSHD_CAPABILITIES, "NET_BIND_SERVICE")

# X.224 Connection Request in a TPKT (ITU-T T.123, X.224; MS-RDPBCGR 2.2.1.1)
# asking for TLS (PROTOCOL_SSL); any TPKT answer means RDP is listening.
X224_CONNECTION_REQUEST = bytes.fromhex("030000130ee000000000000100080001000000")


@dataclass(frozen=True)
class KindProfile:
    """``ports``: container ports to publish; ``cap_add``: capabilities granted;
    ``account``: a generated password is made for the template's account."""

    ports: tuple[int, ...] = ()
    cap_add: tuple[str, ...] = ()
    account: bool = False


KINDS: dict[str, KindProfile] = {
    TemplateKind.TERMINAL.value: KindProfile(),
    TemplateKind.SSH.value: KindProfile(ports=(22,), cap_add=SSHD_CAPABILITIES, account=True),
    # The port comes from the template; the app serves under MOORAGE_BASE_URL.
    TemplateKind.HTTP.value: KindProfile(),
    TemplateKind.VNC.value: KindProfile(ports=(5901,)),
    TemplateKind.RDP.value: KindProfile(ports=(3389,), cap_add=XRDP_CAPABILITIES, account=True),
}
"""The kinds that can be launched."""


def base_url(session_id: str) -> str:
    """The path a session's web app is served under: ``/s/<session-id>/``."""
    return f"/s/{session_id}/"


async def wait_for_banner(host: str, port: int, prefix: bytes, timeout_seconds: float) -> None:
    """Return once a TCP server at ``host:port`` sends a first line starting with ``prefix``.

    Raises:
        RuntimeUnavailable: no such line within ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    delay = 0.02
    last = "no answer"
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
            try:
                line = await asyncio.wait_for(reader.readline(), 2)
            finally:
                writer.close()
            if line.startswith(prefix):
                return
            last = f"unexpected greeting {line[:40]!r}"
        except (OSError, TimeoutError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() + delay > deadline:
            raise RuntimeUnavailable(
                f"the workspace did not answer on port {port} within {timeout_seconds:.0f} s "
                f"({last})"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


async def wait_for_http_ok(url: str, timeout_seconds: float) -> None:
    """Return once ``GET url`` answers 200 (following redirects).

    Raises:
        RuntimeUnavailable: no 200 within ``timeout_seconds``.
    """
    import aiohttp

    deadline = time.monotonic() + timeout_seconds
    delay = 0.05
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        while True:
            try:
                async with client.get(url, allow_redirects=True) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() + delay > deadline:
                raise RuntimeUnavailable(
                    f"the web app did not answer 200 within {timeout_seconds:.0f} s ({last})"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


async def wait_for_rdp(host: str, port: int, timeout_seconds: float) -> None:
    """Return once an RDP server at ``host:port`` answers an X.224 connection request.

    Raises:
        RuntimeUnavailable: no TPKT answer within ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    last = "no answer"
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
            try:
                writer.write(X224_CONNECTION_REQUEST)
                await writer.drain()
                header = await asyncio.wait_for(reader.readexactly(4), 2)
            finally:
                writer.close()
            if header[:2] == b"\x03\x00":
                return
            last = f"unexpected answer {header!r}"
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise RuntimeUnavailable(
                f"the RDP server did not answer within {timeout_seconds:.0f} s ({last})"
            )
        await asyncio.sleep(0.2)
