"""Terminal gateway: a websocket attached to the session's held shell (a Docker
exec with a TTY, or an SSH login for workspaces of kind ``ssh``), which outlives
the websocket (:mod:`moorage.gateway.terminal_hold`).

Protocol (the client is xterm.js in the session page, or any websocket client):

* query: ``cols`` and ``rows`` (1–1000, default 80×24), the client's size; the
  shell takes the size of the latest client attached. Optional ``offset`` (a byte
  number, ≥ 0) and ``shell`` (an id from an earlier ``attached`` message): the
  client resumes and wants to be told where it stands;
* with ``offset``, the server's first frame is text:
  ``{"type": "attached", "shell": "<id>", "offset": N}``. ``shell`` names the shell
  (a new id means a new shell: clear the screen); ``N`` is the number of the next
  output byte sent, counted from the shell's first. When ``shell`` and ``offset``
  name this shell and a byte still kept, ``N`` is that offset and the client
  misses nothing; otherwise ``N`` is where the replay starts;
* then binary frames, both ways: raw terminal bytes. The server first replays the
  shell's recent output (at most the last 256 KiB; from ``offset`` when resuming),
  then sends what follows. Several clients of one session share its shell;
* text frames from the client: JSON control messages; the one defined is
  ``{"type": "resize", "cols": C, "rows": R}`` (1–1000 each);
* the server closes with 4401 (not authenticated), 4403 (cross-site origin),
  4404 (no such session, or not the caller's), 4409 (session not ready, or it
  ended while attached), 1011 (the runtime failed), 1013 (the client fell too
  far behind the output: reconnect), 1001 (the server is stopping), 1000 when
  the shell exits, 4408 / 4410 (disconnected by the owner; share link revoked or
  expired: :mod:`moorage.gateway.presence`). A client that goes away leaves the
  shell running until its session ends; reconnecting attaches to it again.

Besides the owner (or an admin), holders of a share grant get in
(:mod:`moorage.services.share_access`): a peer like the owner; an observer sees
the same output, but its keys and resize messages are dropped here and its size
(query) never reaches the TTY.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from moorage.drivers.base import TerminalStream
from moorage.drivers.ssh.terminal import open_ssh_terminal
from moorage.errors import Conflict, MoorageError, NotFound
from moorage.gateway.deadline import refuse_if_past
from moorage.gateway.presence import close_code_of, present
from moorage.gateway.reach import published
from moorage.gateway.session_tap import SessionTap, open_terminal_tap
from moorage.gateway.terminal_attachment import Attachment
from moorage.gateway.terminal_hold import HeldTerminal, TerminalHolds
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import TemplateKind
from moorage.security.auth import credential_of
from moorage.security.origin import cross_site
from moorage.services.connections import LiveConnection
from moorage.services.share_access import admit

if TYPE_CHECKING:
    from datetime import datetime

    from moorage.context import Context

__all__ = ["SHELL", "bridge", "cross_site", "parse_control", "serve_terminal"]

log = logging.getLogger(__name__)

SHELL = ["/bin/bash", "-l"]
DEFAULT_SIZE = (80, 24)
SEND_BATCH_BYTES = 64 * 1024
"""Queued output chunks are joined into frames of up to this size."""


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


def _size(websocket: WebSocket) -> tuple[int, int]:
    cols, rows = DEFAULT_SIZE
    with contextlib.suppress(ValueError):
        cols = int(websocket.query_params.get("cols", cols))
        rows = int(websocket.query_params.get("rows", rows))
    return max(1, min(cols, 1000)), max(1, min(rows, 1000))


def _resume(websocket: WebSocket) -> tuple[bool, str | None, int | None]:
    """``(hello, shell, offset)`` from the query: ``hello`` when ``offset`` is given."""
    raw = websocket.query_params.get("offset")
    if raw is None:
        return False, None, None
    try:
        offset: int | None = max(0, int(raw))
    except ValueError:
        offset = None
    return True, websocket.query_params.get("shell") or None, offset


async def _open_shell(
    context: Context, session: WorkspaceSession, cols: int, rows: int
) -> TerminalStream:
    """A new shell in ``session``'s workspace with a TTY of ``cols`` × ``rows``."""
    if session.template.kind == TemplateKind.SSH.value:
        # An SSH workspace: the browser terminal is an SSH login like any other.
        password = context.sessions.secret_of(session)
        host, port = await published(context, session, 22)
        return await open_ssh_terminal(
            host,
            port,
            session.account or session.template.shell_user,
            password or "",
            cols=cols,
            rows=rows,
        )
    assert session.container_id is not None
    driver = context.drivers.get(session.environment)
    return await driver.open_terminal(
        session.container_id,
        user=session.template.shell_user,
        command=SHELL,
        cols=cols,
        rows=rows,
    )


async def serve_terminal(
    websocket: WebSocket, context: Context, holds: TerminalHolds, session_id: str
) -> None:
    """Authenticate, check the session, attach to its held shell (opening one when
    none is held) and serve the protocol of the module docstring until the client
    goes or the shell ends."""
    if cross_site(websocket) and credential_of(websocket):
        await websocket.accept()
        await websocket.close(code=4403, reason="cross-site websocket refused")
        return
    cols, rows = _size(websocket)
    hello, shell, offset = _resume(websocket)
    try:
        admission = await admit(context.shares, context.sessions, websocket, session_id)
        session = admission.session
        if session.state != LeaseState.READY.value or not session.container_id:
            raise Conflict(f"the session is {session.state}", code="session_not_ready")
        refuse_if_past(session)

        async def open_shell(cols: int, rows: int) -> TerminalStream:
            spare = await holds.spares.take(session_id, session.container_id)
            if spare is None:
                return await _open_shell(context, session, cols, rows)
            await spare.resize(cols, rows)  # opened ahead (gateway.terminal_spares)
            return spare

        async def still_live() -> datetime | None:
            try:
                now = await context.sessions.get(session.user, session_id)
            except NotFound:
                return None
            return now.expires_at if now.state == LeaseState.READY.value else None

        async def open_tap(cols: int, rows: int) -> SessionTap:
            return await open_terminal_tap(context, session, cols, rows)

        held = await holds.hold(
            session_id,
            open_shell=open_shell,
            cols=cols,
            rows=rows,
            expires_at=session.expires_at,
            still_live=still_live,
            open_tap=open_tap,
        )
        # No await between hold() and attach(): the held terminal cannot end in between.
        attachment, first, replay = held.attach(
            cols, rows, shell=shell, offset=offset, steers=admission.may_control
        )
    except MoorageError as exc:
        # Accept, then close with a code: a refused handshake shows the browser only
        # "failed", while a close frame carries the reason to the page.
        await websocket.accept()
        await websocket.close(code=close_code_of(exc), reason=exc.message[:120])
        return
    try:
        await websocket.accept()
        async with present(websocket, context, admission, "terminal") as live:
            await held.apply_size()
            if hello:
                message = {"type": "attached", "shell": held.shell_id, "offset": first}
                await websocket.send_text(json.dumps(message))
            if replay:
                await websocket.send_bytes(replay)
            await _serve_attachment(websocket, held, attachment, live, admission.may_control)
    except WebSocketDisconnect:
        pass
    finally:
        await held.detach(attachment)


async def _serve_attachment(
    websocket: WebSocket,
    held: HeldTerminal,
    attachment: Attachment,
    live: LiveConnection,
    may_control: bool,
) -> None:
    """Pump the attachment's output down and the client's keys and sizes up until the
    client goes (the shell stays) or the attachment is ended (closed with its code).
    Keys and sizes reach the shell only while ``may_control`` and ``live`` is open."""

    async def write(data: bytes) -> None:
        if may_control and live.open:
            await held.write(data)

    async def resize(cols: int, rows: int) -> None:
        if may_control and live.open:
            await held.resize(attachment, cols, rows)

    async def downstream() -> None:
        while (chunk := await attachment.queue.get()) is not None:
            attachment.taken(chunk)
            # Join what else is queued, so a burst of output is a few frames, not thousands.
            while len(chunk) < SEND_BATCH_BYTES and not attachment.queue.empty():
                more = attachment.queue.get_nowait()
                if more is None:
                    attachment.queue.put_nowait(None)
                    break
                attachment.taken(more)
                chunk += more
            await websocket.send_bytes(chunk)
        with contextlib.suppress(Exception):
            await websocket.close(code=attachment.close_code, reason=attachment.close_reason)

    await _pump(
        websocket,
        downstream(),
        write=write,
        resize=resize,
        what="terminal attachment",
    )


async def bridge(websocket: WebSocket, terminal: TerminalStream) -> None:
    """Pump terminal bytes both ways and apply resize messages until either side ends
    (the exec terminal of operators, which is not held: it ends with its websocket)."""

    async def downstream() -> None:
        while (chunk := await terminal.read()) is not None:
            await websocket.send_bytes(chunk)

    await _pump(
        websocket,
        downstream(),
        write=terminal.write,
        resize=terminal.resize,
        what="terminal bridge",
    )
    with contextlib.suppress(Exception):
        await websocket.close(code=1000, reason="the shell exited")


async def _pump(
    websocket: WebSocket,
    downstream: Coroutine[Any, Any, None],
    *,
    write: Callable[[bytes], Awaitable[None]],
    resize: Callable[[int, int], Awaitable[None]],
    what: str,
) -> None:
    """Run ``downstream`` (output to the client) beside the client's side of the
    protocol (binary frames are keys for ``write``; a valid resize message calls
    ``resize(cols, rows)``) until either ends; an error other than the client
    leaving is logged as ``<what> ended``."""

    async def upstream() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await write(message["bytes"])
            elif message.get("text") is not None:
                size = parse_control(message["text"])
                if size is not None:
                    await resize(*size)

    tasks = [asyncio.create_task(downstream), asyncio.create_task(upstream())]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        exc = task.exception()
        if exc is not None and not isinstance(exc, WebSocketDisconnect):
            log.warning("%s ended: %r", what, exc)
