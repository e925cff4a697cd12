"""Websockets of a workspace web app (kind ``http``): ``/s/<session-id>/…`` bridged
to the same path on the container's app, frame by frame.

* :func:`proxy_websocket` is the route on Moorage's own origin (single-origin
  mode); the workspace origin (:mod:`moorage.gateway.workspace_app`) calls
  :func:`bridge_websocket` itself.
* Who gets through, and the headers the app sees, are the reverse proxy's
  (:mod:`moorage.gateway.http_proxy`): an observer's connection is bridged, but
  its frames are dropped (the app's own frames still reach it).
* The bridge ends when either side does, or when the session's deadline passes
  (closed with :data:`~moorage.gateway.deadline.CLOSE_DEADLINE`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from fastapi import APIRouter, WebSocket

from moorage.errors import MoorageError, NotFound
from moorage.gateway.deadline import CLOSE_DEADLINE, until_deadline
from moorage.gateway.http_proxy import _forward_headers, _target
from moorage.gateway.presence import present
from moorage.observability.metrics import GATEWAY_CONNECTIONS
from moorage.security.access import GatewayShared
from moorage.security.origin import cross_site
from moorage.services.share_access import Admission

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = ["bridge_websocket", "router"]

router = APIRouter(include_in_schema=False)


@router.websocket("/s/{session_id}/{path:path}", dependencies=[GatewayShared])
async def proxy_websocket(websocket: WebSocket, session_id: str, path: str) -> None:
    """Single-origin mode: bridge a same-origin websocket to the web app (4403 when
    cross-site). Workspace-origin mode: refused (4404), the app's sockets go to its origin."""
    if cross_site(websocket):
        await websocket.close(code=4403)
        return
    try:
        context, admission, base = await _target(websocket, session_id)
        if context.settings.workspace_origin_mode:
            raise NotFound("the web app is served from its workspace origin")
    except MoorageError as exc:
        await websocket.close(code=4404 if isinstance(exc, NotFound) else 4409)
        return
    await bridge_websocket(websocket, context, base, admission)


async def bridge_websocket(
    websocket: WebSocket, context: Context, base: str, admission: Admission
) -> None:
    """Bridge ``websocket`` to the same path on ``base``, frame by frame (text
    stays text), tracked as ``admission``'s connection; an observer's frames are
    dropped. Closes 1011 when the app refuses."""
    url = f"ws{base[4:]}{websocket.url.path}"
    if websocket.url.query:
        url += f"?{websocket.url.query}"
    protocols = [
        p.strip()
        for p in websocket.headers.get("sec-websocket-protocol", "").split(",")
        if p.strip()
    ]
    headers = {
        k: v
        for k, v in _forward_headers(websocket).items()
        if not k.lower().startswith("sec-websocket")
    }
    try:
        upstream = await context.http_client.ws_connect(
            url, headers=headers, protocols=protocols, autoping=True, max_msg_size=0
        )
    except (aiohttp.ClientError, OSError, TimeoutError):
        await websocket.close(code=1011)
        return
    async with present(websocket, context, admission, "app") as live:
        await websocket.accept(subprotocol=upstream.protocol)
        await _bridge_frames(websocket, upstream, lambda: admission.may_control and live.open)


async def _bridge_frames(
    websocket: WebSocket, upstream: aiohttp.ClientWebSocketResponse, may_send: Callable[[], bool]
) -> None:
    """Pump frames both ways until either side ends; the client's are sent only while
    ``may_send()``."""

    async def down() -> None:
        async for message in upstream:
            if message.type == aiohttp.WSMsgType.TEXT:
                await websocket.send_text(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await websocket.send_bytes(message.data)
            else:
                return

    async def up() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if not may_send():
                continue  # an observer's frame: dropped, and not activity either
            on_message = getattr(websocket.state, "on_message", None)
            if on_message is not None:
                on_message()  # the browser said something: activity (gateway.app_activity)
            if message.get("text") is not None:
                await upstream.send_str(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send_bytes(message["bytes"])

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    deadline = getattr(websocket.state, "workspace_deadline", None)
    if deadline is not None:  # closed when the session's deadline passes
        tasks.append(asyncio.create_task(until_deadline(*deadline)))
    GATEWAY_CONNECTIONS.labels("http").inc()
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if len(tasks) == 3 and tasks[2].done():
            with contextlib.suppress(Exception):
                await websocket.close(code=CLOSE_DEADLINE[0], reason=CLOSE_DEADLINE[1])
    finally:
        GATEWAY_CONNECTIONS.labels("http").dec()
        for task in tasks:
            task.cancel()
        await upstream.close()
        with contextlib.suppress(Exception):
            await websocket.close()
