"""The ``ssh`` kind: sshd on port 22, published on the publish address.

The template's account is given to the image's entrypoint as ``SSH_USER`` and a
generated password as the secret file (``$MOORAGE_SECRET_FILE``, ``images/sshd``),
never in the environment; ready when the
SSH banner (``SSH-2.0-…``, RFC 4253 section 4.2) is read through the published
port.

Warm (claimed from a pool): started with a random password nobody is told; at
the claim ``chpasswd`` (as root, the line on standard input) gives the account
a fresh password, the one the person sees (:meth:`AccountKind.hand_over`).
"""

from __future__ import annotations

import asyncio
import shlex
import time

from moorage.errors import RuntimeUnavailable
from moorage.models.template import TemplateKind
from moorage.services.kinds.base import AccountKind, StartedWorkspace

__all__ = ["SSHD_CAPABILITIES", "SshKind", "wait_for_banner"]

SSH_PORT = 22

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


class SshKind(AccountKind):
    """A shell reached with any SSH client, with a generated password."""

    name = TemplateKind.SSH.value
    cap_add = SSHD_CAPABILITIES
    native_port = SSH_PORT
    env_prefix = "SSH"

    async def wait_ready(self, started: StartedWorkspace, timeout_seconds: float) -> None:
        """Ready once the published port sends the SSH banner."""
        host, port = await started.address(SSH_PORT)
        await wait_for_banner(host, port, b"SSH-2.0", timeout_seconds)

    def client_command(self, host: str, port: int, username: str) -> str | None:
        """``ssh -p <port> <username>@<host>``."""
        return shlex.join(["ssh", "-p", str(port), f"{username}@{host}"])


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
