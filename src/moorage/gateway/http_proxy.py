"""Reverse proxy for workspaces of kind ``http``: ``/s/<session-id>/…`` → the
container's web app, through the port it publishes on the publish address.

* Only the session's owner or an admin gets through (the login cookie or a
  bearer token); anyone else gets 404, as if the session did not exist.
* The path and the ``Host`` header are passed on unchanged (the app is started
  with ``MOORAGE_BASE_URL=/s/<session-id>/`` and serves under it, and apps that
  compare ``Origin`` with ``Host``, like Jupyter, see the browser's view);
  Moorage's own login cookie and ``Authorization`` header are removed.
* Bodies are streamed both ways (never buffered), compressed bodies pass
  through as they are, and websockets are bridged frame by frame.

aiohttp is the client: it is already a dependency (through aiodocker) and
speaks both HTTP and websockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING

import aiohttp
from fastapi import APIRouter, Request, WebSocket
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from starlette.responses import Response, StreamingResponse

from moorage.errors import Conflict, MoorageError, NotFound, RuntimeUnavailable
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import TemplateKind
from moorage.security.access import GatewayOwner
from moorage.security.auth import COOKIE_NAME, user_from_connection

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# RFC 9110 section 7.6.1: connection-specific fields are not forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _target(connection: HTTPConnection, session_id: str) -> tuple[Context, str]:
    """The upstream base ``http://host:port`` of a session the caller may reach.

    Raises:
        NotFound: not authenticated as its owner or an admin, no such session, or not http.
        Conflict: the session is not ready.
    """
    context: Context = connection.app.state.context
    try:
        user = await user_from_connection(connection, context)
        session: WorkspaceSession = await context.sessions.get(user, session_id)
    except MoorageError as exc:
        raise NotFound(f"no session {session_id}", code="session_not_found") from exc
    if session.template.kind != TemplateKind.HTTP.value or not session.ports:
        raise NotFound(f"session {session_id} serves no web app", code="session_not_found")
    if LeaseState(session.state).is_terminal:
        raise NotFound(f"session {session_id} has ended", code="session_ended")
    if session.state != LeaseState.READY.value:
        raise Conflict(f"the session is {session.state}", code="session_not_ready")
    port = next(iter(session.ports.values()))
    connection.state.app_token = context.sessions.secret_of(session)  # see _forward_headers
    return context, f"http://{context.settings.publish_address}:{port}"


def _forward_headers(connection: HTTPConnection) -> dict[str, str]:
    headers = {
        k: v
        for k, v in connection.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() != "authorization"
    }
    cookie = connection.headers.get("cookie")
    if cookie is not None:
        jar = SimpleCookie()
        jar.load(cookie)
        kept = "; ".join(f"{k}={m.coded_value}" for k, m in jar.items() if k != COOKIE_NAME)
        headers.pop("cookie", None)
        if kept:
            headers["cookie"] = kept
    client = connection.client.host if connection.client else ""
    headers["x-forwarded-for"] = client
    headers["x-forwarded-proto"] = connection.url.scheme
    headers["x-forwarded-host"] = connection.headers.get("host", "")
    token = getattr(connection.state, "app_token", None)  # the app's per-session token
    if token:
        headers["authorization"] = f"token {token}"
    return headers


@router.api_route("/s/{session_id}/{path:path}", methods=METHODS, dependencies=[GatewayOwner])
async def proxy_http(session_id: str, path: str, request: Request) -> Response:
    """Forward one request, streaming the body both ways."""
    context, base = await _target(request, session_id)
    url = f"{base}{request.url.path}"
    if request.url.query:
        url += f"?{request.url.query}"

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    has_body = request.method not in ("GET", "HEAD", "OPTIONS")
    try:
        upstream = await context.http_client.request(
            request.method,
            url,
            headers=_forward_headers(request),
            data=body() if has_body else None,
            allow_redirects=False,
        )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise RuntimeUnavailable(f"the workspace's web app does not answer: {exc}") from exc
    headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP]
    if "Content-Length" in upstream.headers and not upstream.headers.get("Transfer-Encoding"):
        headers.append(("content-length", upstream.headers["Content-Length"]))
    response = StreamingResponse(
        upstream.content.iter_any(),
        status_code=upstream.status,
        background=BackgroundTask(upstream.release),
    )
    response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return response


@router.websocket("/s/{session_id}/{path:path}", dependencies=[GatewayOwner])
async def proxy_websocket(websocket: WebSocket, session_id: str, path: str) -> None:
    """Bridge a websocket to the web app, frame by frame (text stays text)."""
    try:
        context, base = await _target(websocket, session_id)
    except MoorageError as exc:
        await websocket.close(code=4404 if isinstance(exc, NotFound) else 4409)
        return
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
    await websocket.accept(subprotocol=upstream.protocol)

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
            if message.get("text") is not None:
                await upstream.send_str(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send_bytes(message["bytes"])

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await upstream.close()
        with contextlib.suppress(Exception):
            await websocket.close()
