"""Terminal gateway: a websocket bridged to a Docker exec with a TTY, or to an SSH
login for workspaces of kind ``ssh``.

Protocol (the client is xterm.js in the session page, or any websocket client):

* binary frames, both ways: raw terminal bytes;
* text frames from the client: JSON control messages; the one defined is
  ``{"type": "resize", "cols": C, "rows": R}`` (1–1000 each);
* the server closes with 4401 (not authenticated), 4403 (cross-site origin),
  4404 (no such session, or not the caller's), 4409 (session not ready),
  1011 (the runtime failed), 1000 when the shell exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from moorage.drivers.base import TerminalStream
from moorage.drivers.ssh.terminal import open_ssh_terminal
from moorage.errors import Conflict, MoorageError, NotFound, Unauthenticated
from moorage.models.lease import LeaseState
from moorage.models.template import TemplateKind
from moorage.security.auth import credential_of, user_from_connection
from moorage.security.origin import cross_site

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = ["bridge", "cross_site", "parse_control", "serve_terminal"]

log = logging.getLogger(__name__)

SHELL = ["/bin/bash", "-l"]
DEFAULT_SIZE = (80, 24)


def parse_control(text: str) -> tuple[int, int] | None:
    """``(cols, rows)`` of a valid resize message, else None (unknown messages are ignored)."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "resize":
        return None
    cols, rows = message.get("cols"), message.get("rows")
    for value in (cols, rows):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
            return None
    assert isinstance(cols, int) and isinstance(rows, int)
    return cols, rows


async def serve_terminal(websocket: WebSocket, context: Context, session_id: str) -> None:
    """Authenticate, check the session, then bridge until either side ends."""
    if cross_site(websocket) and credential_of(websocket):
        await websocket.accept()
        await websocket.close(code=4403, reason="cross-site websocket refused")
        return
    try:
        user = await user_from_connection(websocket, context)
        session = await context.sessions.get(user, session_id)
        if session.state != LeaseState.READY.value or not session.container_id:
            raise Conflict(f"the session is {session.state}", code="session_not_ready")
        cols, rows = DEFAULT_SIZE
        with contextlib.suppress(ValueError):
            cols = int(websocket.query_params.get("cols", cols))
            rows = int(websocket.query_params.get("rows", rows))
        cols, rows = max(1, min(cols, 1000)), max(1, min(rows, 1000))
        if session.template.kind == TemplateKind.SSH.value:
            # An SSH workspace: the browser terminal is an SSH login like any other.
            password = context.sessions.secret_of(session)
            terminal: TerminalStream = await open_ssh_terminal(
                context.settings.publish_address,
                int((session.ports or {})["22"]),
                session.account or session.template.shell_user,
                password or "",
                cols=cols,
                rows=rows,
            )
        else:
            driver = context.drivers.get(session.environment)
            terminal = await driver.open_terminal(
                session.container_id,
                user=session.template.shell_user,
                command=SHELL,
                cols=cols,
                rows=rows,
            )
    except MoorageError as exc:
        # Accept, then close with a code: a refused handshake shows the browser only
        # "failed", while a close frame carries the reason to the page.
        code = {Unauthenticated: 4401, NotFound: 4404, Conflict: 4409}.get(type(exc), 1011)
        await websocket.accept()
        await websocket.close(code=code, reason=exc.message[:120])
        return
    await websocket.accept()
    try:
        await bridge(websocket, terminal)
    finally:
        await terminal.close()


async def bridge(websocket: WebSocket, terminal: TerminalStream) -> None:
    """Pump terminal bytes both ways and apply resize messages until either side ends."""

    async def downstream() -> None:
        while (chunk := await terminal.read()) is not None:
            await websocket.send_bytes(chunk)

    async def upstream() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await terminal.write(message["bytes"])
            elif message.get("text") is not None:
                size = parse_control(message["text"])
                if size is not None:
                    await terminal.resize(*size)

    tasks = [asyncio.create_task(downstream()), asyncio.create_task(upstream())]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        exc = task.exception()
        if exc is not None and not isinstance(exc, WebSocketDisconnect):
            log.warning("terminal bridge ended: %r", exc)
    with contextlib.suppress(Exception):
        await websocket.close(code=1000, reason="the shell exited")
