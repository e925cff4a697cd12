"""The gateway's routes: a session's websockets (terminal, desktop, RDP through
guacd) and its thumbnail under ``/api/v1/sessions/{id}/…``, and the web-app proxy
under ``/s/{id}/``.

They live here, not in ``api/``, so the gateway never imports the API; the app
mounts :data:`router` next to the API's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, WebSocket

from moorage.gateway.desktop import serve_vnc
from moorage.gateway.guacamole import serve_guacamole
from moorage.gateway.http_proxy import router as proxy_router
from moorage.gateway.http_websocket import router as proxy_websocket_router
from moorage.gateway.terminal import serve_terminal
from moorage.gateway.thumbnails import SVG
from moorage.security.access import GatewayOwner, GatewayShared, Owner
from moorage.security.auth import get_current_user
from moorage.services.watching import session_to_watch

__all__ = ["router"]

router = APIRouter()
sessions = APIRouter(prefix="/api/v1/sessions", tags=["sessions"])


@sessions.websocket("/{session_id}/guacamole", dependencies=[GatewayOwner])
async def session_guacamole(websocket: WebSocket, session_id: str) -> None:
    """The RDP desktop of an rdp session through guacd (when ``MOORAGE_GUACD_ADDRESS``
    is set), for ``Guacamole.WebSocketTunnel``: subprotocol ``guacamole``, the
    tunnel UUID first, then Guacamole instructions both ways. Query: ``width``,
    ``height``, ``dpi``."""
    await serve_guacamole(websocket, websocket.app.state.context, session_id)


@sessions.websocket("/{session_id}/vnc", dependencies=[GatewayShared])
async def session_desktop(websocket: WebSocket, session_id: str) -> None:
    """The desktop of a vnc session for noVNC: RFB over binary frames (subprotocol
    ``binary``), security type None on this side; Moorage authenticates to the
    container's VNC server with the session's password, which never reaches the
    browser. Share grants get in too; an observer's keys, pointer, clipboard and
    resizes are dropped (:mod:`moorage.gateway.rfb_filter`). Close codes: 4401,
    4403, 4404, 4408, 4409, 4410, 1011 (see the terminal)."""
    await serve_vnc(websocket, websocket.app.state.context, session_id)


@sessions.websocket("/{session_id}/terminal", dependencies=[GatewayShared])
async def session_terminal(websocket: WebSocket, session_id: str) -> None:
    """The session's shell with a TTY, held by the server across reconnects.

    Binary frames carry terminal bytes both ways (the shell's recent output is
    replayed first); a text frame from the client is a JSON control message
    ``{"type": "resize", "cols": C, "rows": R}``. Query: ``cols``, ``rows``, and
    ``offset``/``shell`` to resume (see :mod:`moorage.gateway.terminal`). Close
    codes: 4401 not authenticated, 4403 cross-site, 4404 no such session (or not
    yours, and no share grant), 4408 disconnected by the owner, 4409 session not
    ready or ended, 4410 share link revoked or expired, 1011 runtime failure, 1000
    the shell exited. A share grant's observer sees the output; its keys and
    resizes are dropped.
    """
    state = websocket.app.state
    await serve_terminal(websocket, state.context, state.terminal_holds, session_id)


THUMBNAIL_HEADERS = {
    "Cache-Control": "private, no-store",
    # Drawn by Moorage with every character escaped; still, opened on its own the
    # image may run nothing and load nothing.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


@sessions.get(
    "/{session_id}/thumbnail",
    dependencies=[Owner],
    response_class=Response,
    responses={200: {"content": {SVG: {}, "image/png": {}}, "description": "the image"}},
)
async def session_thumbnail(request: Request, session_id: str) -> Response:
    """A small image (at most 480 px wide) of the session's screen now, made at most
    a few seconds ago: a terminal's (or ssh workspace's) screen as SVG, a desktop's
    frame as PNG, else an SVG placeholder ("no terminal open" until someone opens
    the terminal; the kind for rdp and http; the state when not ready). For the session's
    owner, and instructors and admins of its org
    (:func:`moorage.services.watching.may_watch`); 404 to anyone else. Not stored by
    caches (``Cache-Control: private, no-store``)."""
    state = request.app.state
    user = await get_current_user(request)
    session = await session_to_watch(state.context.sessionmaker, user, session_id)
    thumbnail = await state.thumbnails.of(session)
    return Response(thumbnail.content, media_type=thumbnail.media_type, headers=THUMBNAIL_HEADERS)


router.include_router(sessions)
router.include_router(proxy_router)
router.include_router(proxy_websocket_router)
