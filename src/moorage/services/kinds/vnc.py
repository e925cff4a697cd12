"""The ``vnc`` kind: Xvnc on port 5901 with a generated password.

The password is the session's secret, delivered to the image as a file
(``$MOORAGE_SECRET_FILE``, ``images/desktop``), never in its environment;
ready when Moorage completes the VNC handshake with it (:func:`.rfb.open_vnc`).
The browser reaches the desktop through the desktop gateway's websocket.

Warm (claimed from a pool): Xvnc's password file is rewritten with a fresh
password at the claim (:meth:`VncKind.hand_over`); the start-up one stops
working for the next connection.
"""

from __future__ import annotations

import asyncio

from moorage.errors import RuntimeUnavailable
from moorage.models.template import Template, TemplateKind
from moorage.services.kinds.base import (
    KindEnvironment,
    KindPaths,
    StartedWorkspace,
    WorkspaceKind,
)
from moorage.services.kinds.rfb import open_vnc

__all__ = ["VNC_PORT", "VncKind", "wait_for_vnc"]

VNC_PORT = 5901


class VncKind(WorkspaceKind):
    """A desktop in the browser (noVNC), the password kept by the server."""

    name = TemplateKind.VNC.value

    def ports(self, template: Template) -> tuple[int, ...]:
        """Port 5901."""
        return (VNC_PORT,)

    def environment(self, template: Template, session_id: str, password: str) -> KindEnvironment:
        """``password`` as the secret, which the session keeps; no account."""
        return KindEnvironment(secret=password)

    async def wait_ready(self, started: StartedWorkspace, timeout_seconds: float) -> None:
        """Ready once a full VNC handshake with the session's password succeeds."""
        host, port = await started.address(VNC_PORT)
        await wait_for_vnc(host, port, started.secret or "", timeout_seconds)

    async def hand_over(self, started: StartedWorkspace, password: str) -> KindEnvironment:
        """Xvnc's password file (``$HOME/.vnc/passwd``, written by ``vncpasswd -f`` as
        the image's user) gets ``password``; TigerVNC reads the file at every
        authentication, so the next connection needs the new one and the warm
        password stops working at once."""
        data = f"{password}\n".encode()
        script = (
            f'umask 077 && head -c {len(data)} | vncpasswd -f > "$HOME/.vnc/passwd.new" '
            '&& mv -f "$HOME/.vnc/passwd.new" "$HOME/.vnc/passwd"'
        )
        await started.driver.exec_with_input(
            started.container.id, ["sh", "-c", script], user="", data=data
        )
        return KindEnvironment(secret=password)

    def paths(self, session_id: str) -> KindPaths:
        """The desktop websocket at ``/api/v1/sessions/<id>/vnc``."""
        return KindPaths(desktop=f"/api/v1/sessions/{session_id}/vnc")


async def wait_for_vnc(host: str, port: int, password: str, timeout_seconds: float) -> None:
    """Return once a VNC handshake with ``password`` at ``host:port`` succeeds.

    Raises:
        RuntimeUnavailable: the last handshake's error, after ``timeout_seconds``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    delay = 0.01  # Xvnc answers a fraction of a second after start: poll finely, then back off
    while True:
        try:
            _, writer = await open_vnc(host, port, password)
        except RuntimeUnavailable:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.1)
            continue
        writer.close()
        return
