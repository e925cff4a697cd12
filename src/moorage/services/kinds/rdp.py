"""The ``rdp`` kind: xrdp on port 3389 with the template's account.

The account is given to the image as ``RDP_USER`` and a generated password as
the secret file (``$MOORAGE_SECRET_FILE``, ``images/rdp``); ready when the port
answers an X.224 connection request with a TPKT packet.

Warm (claimed from a pool): as ssh, the account's start-up password is replaced
by a fresh one at the claim (``chpasswd``; xrdp checks it through PAM at login).
"""

from __future__ import annotations

import asyncio
import shlex
import time

from moorage.errors import RuntimeUnavailable
from moorage.models.template import TemplateKind
from moorage.services.kinds.base import AccountKind, StartedWorkspace
from moorage.services.kinds.ssh import SSHD_CAPABILITIES

__all__ = ["XRDP_CAPABILITIES", "RdpKind", "wait_for_rdp"]

RDP_PORT = 3389

# xrdp and xrdp-sesman: switch to the user, own its files, start its X server.
XRDP_CAPABILITIES = (*SSHD_CAPABILITIES, "NET_BIND_SERVICE")

# X.224 Connection Request in a TPKT (ITU-T T.123, X.224; MS-RDPBCGR 2.2.1.1)
# asking for TLS (PROTOCOL_SSL); any TPKT answer means RDP is listening.
X224_CONNECTION_REQUEST = bytes.fromhex("030000130ee000000000000100080001000000")


class RdpKind(AccountKind):
    """A desktop reached with an RDP client (or guacd), with a generated password."""

    name = TemplateKind.RDP.value
    cap_add = XRDP_CAPABILITIES
    native_port = RDP_PORT
    env_prefix = "RDP"

    async def wait_ready(self, started: StartedWorkspace, timeout_seconds: float) -> None:
        """Ready once the published port answers an X.224 connection request."""
        host, port = await started.address(RDP_PORT)
        await wait_for_rdp(host, port, timeout_seconds)

    def client_command(self, host: str, port: int, username: str) -> str | None:
        """``xfreerdp /v:<host>:<port> /u:<username>``."""
        return shlex.join(["xfreerdp", f"/v:{host}:{port}", f"/u:{username}"])


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
