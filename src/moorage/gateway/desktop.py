"""Desktop gateway: noVNC ↔ websocket ↔ the container's VNC server.

Moorage completes VNC Authentication with the container (see
:mod:`moorage.services.kinds.rfb`) and offers the browser security type None,
so the session's VNC password never leaves the server. The session's owner (or an
admin) and the holders of a share grant get in (:mod:`moorage.services.share_access`);
the client's messages pass through :class:`~moorage.gateway.rfb_filter.RfbFilter`,
which drops an observer's keys, pointer, clipboard and resizes. Close codes as for
the terminal: 4401, 4403, 4404, 4409, 1011, and 4408 / 4410 (see
:mod:`moorage.gateway.presence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from moorage.errors import Conflict, MoorageError, NotFound, RuntimeUnavailable
from moorage.gateway.deadline import refuse_if_past, reloader, serve_until_deadline
from moorage.gateway.presence import close_code_of, present
from moorage.gateway.reach import published
from moorage.gateway.rfb_filter import RfbFilter, RfbProtocolError
from moorage.gateway.session_tap import tap_desktop
from moorage.models.lease import LeaseState
from moorage.models.template import TemplateKind
from moorage.security.auth import credential_of
from moorage.security.origin import cross_site
from moorage.services.connections import LiveConnection
from moorage.services.kinds.rfb import RFB_VERSION, SECURITY_NONE, open_vnc
from moorage.services.share_access import admit

if TYPE_CHECKING:
    from moorage.context import Context
    from moorage.models.session import WorkspaceSession

__all__ = ["VNC_PORT", "open_vnc", "serve_vnc"]

log = logging.getLogger(__name__)

VNC_PORT = 5901


class _Frames:
    """Reads exact byte counts out of binary websocket frames."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self.buffer = b""

    async def read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise ConnectionError("the browser left during the handshake")
            self.buffer += message.get("bytes") or (message.get("text") or "").encode()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


async def serve_vnc(websocket: WebSocket, context: Context, session_id: str) -> None:
    """Authenticate the browser, open the container's desktop, then bridge bytes."""
    if cross_site(websocket) and credential_of(websocket):
        await websocket.accept()
        await websocket.close(code=4403, reason="cross-site websocket refused")
        return
    subprotocols = websocket.scope.get("subprotocols") or []
    subprotocol = "binary" if "binary" in subprotocols else None
    try:
        admission = await admit(context.shares, context.sessions, websocket, session_id)
        session = admission.session
        if session.template.kind != TemplateKind.VNC.value:
            raise NotFound(f"session {session_id} has no desktop", code="session_not_found")
        if session.state != LeaseState.READY.value or not session.ports:
            raise Conflict(f"the session is {session.state}", code="session_not_ready")
        refuse_if_past(session)
        host, port = await published(context, session, VNC_PORT)
        reader, writer = await open_vnc(host, port, context.sessions.secret_of(session) or "")
    except MoorageError as exc:
        await websocket.accept(subprotocol=subprotocol)
        await websocket.close(code=close_code_of(exc), reason=exc.message[:120])
        return
    await websocket.accept(subprotocol=subprotocol)
    try:
        async with present(websocket, context, admission, "desktop") as live:
            await _serve(
                websocket,
                context,
                session,
                reader,
                writer,
                RfbFilter(may_control=admission.may_control),
                live,
            )
    except (ConnectionError, RuntimeUnavailable, RfbProtocolError) as exc:
        log.info("desktop of session %s closed: %s", session_id, exc)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await websocket.close()


async def _serve(
    websocket: WebSocket,
    context: Context,
    session: WorkspaceSession,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    rfb: RfbFilter,
    live: LiveConnection,
) -> None:
    """The browser's side of the handshake, then the bridge through ``rfb`` and the
    session's tap (recording, activity: gateway.session_tap). What ``rfb`` drops
    never reaches the tap, so an observer's input is not the owner's activity."""
    frames = _Frames(websocket)
    # The browser's side of RFC 6143 7.1: version, then security type None.
    await websocket.send_bytes(RFB_VERSION)
    await frames.read(12)
    await websocket.send_bytes(bytes([1, SECURITY_NONE]))
    await frames.read(1)
    await websocket.send_bytes(b"\0\0\0\0")  # SecurityResult: OK
    if frames.buffer:
        writer.write(rfb.feed(frames.buffer))
    reader, writer, tap = await tap_desktop(
        context, session, reader, writer, after_init=bool(frames.buffer)
    )
    try:
        await serve_until_deadline(
            websocket,
            "vnc",
            session,
            reloader(context.sessions, session.id),
            _bridge(websocket, reader, writer, rfb, live),
        )
    finally:
        await tap.close()


async def _bridge(
    websocket: WebSocket,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    rfb: RfbFilter,
    live: LiveConnection,
) -> None:
    async def down() -> None:
        while data := await reader.read(65536):
            await websocket.send_bytes(data)

    async def up() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data and live.open:
                forward = rfb.feed(data)
                if forward:
                    writer.write(forward)
                    await writer.drain()

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        if isinstance(task.exception(), RfbProtocolError):
            raise task.exception()  # type: ignore[misc]
