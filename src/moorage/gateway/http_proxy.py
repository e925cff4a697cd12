"""Reverse proxy for workspaces of kind ``http``: ``/s/<session-id>/…`` → the
container's web app, through the port it publishes on the publish address.

* Only the session's owner or an admin gets through; anyone else gets 404, as
  if the session did not exist.
* Where: with ``MOORAGE_WORKSPACE_DOMAIN`` or ``MOORAGE_WORKSPACE_PORT`` the app
  is served from its own origin (:mod:`moorage.gateway.workspace_app`) and
  ``/s/<id>/`` on Moorage only checks the login and redirects there with a
  one-time ticket (:mod:`moorage.gateway.workspace_origin`). Without them
  (single-origin mode) Moorage proxies the app on its own origin, and every
  response gets ``Content-Security-Policy: sandbox …`` without
  ``allow-same-origin`` (the app's scripts run in an opaque origin, so they
  cannot read Moorage's API with the viewer's cookie) and loses its
  ``Set-Cookie`` headers.
* Framing: only Moorage's app page (``/sessions/<id>/app``) may frame an app.
  Every answer gets ``Content-Security-Policy: frame-ancestors`` naming Moorage's
  origin (``'self'`` on Moorage's own origin); the app's own ``frame-ancestors``
  directive and ``X-Frame-Options`` are dropped.
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
from urllib.parse import urlencode

import aiohttp
from fastapi import APIRouter, Request, WebSocket
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response, StreamingResponse

from moorage.errors import Conflict, MoorageError, NotFound, RuntimeUnavailable
from moorage.gateway.deadline import CLOSE_DEADLINE, refuse_if_past, reloader, until_deadline
from moorage.gateway.workspace_origin import COOKIE_PREFIX, TICKET_PARAM, issue_ticket
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import TemplateKind
from moorage.models.user import User
from moorage.observability.metrics import GATEWAY_CONNECTIONS
from moorage.security.access import GatewayOwner
from moorage.security.auth import COOKIE_NAME, user_from_connection
from moorage.security.origin import cross_site

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = [
    "SAME_ORIGIN_FRAMING",
    "SANDBOX_CSP",
    "bridge_websocket",
    "forward",
    "router",
    "session_upstream",
]

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
SANDBOX_CSP = "sandbox allow-scripts allow-forms allow-popups allow-downloads"
"""Added to every response proxied on Moorage's own origin (no ``allow-same-origin``)."""
SAME_ORIGIN_FRAMING = "'self'"
"""Who may frame an app proxied on Moorage's own origin: Moorage's pages (its app page)."""


async def session_upstream(
    context: Context, user: User, session_id: str, connection: HTTPConnection | None = None
) -> str:
    """The upstream base ``http://host:port`` of a session ``user`` may reach.

    With ``connection``, the app's per-session token (the session's sealed secret)
    is kept on ``connection.state.app_token`` for :func:`_forward_headers`, and the
    session's deadline on ``connection.state.workspace_deadline`` for
    :func:`bridge_websocket`. Past the deadline, refused (access ends then).

    Raises:
        NotFound: not its owner or an admin, no such session, not http, or ended.
        Conflict: the session is not ready.
    """
    try:
        session: WorkspaceSession = await context.sessions.get(user, session_id)
    except MoorageError as exc:
        raise NotFound(f"no session {session_id}", code="session_not_found") from exc
    if session.template.kind != TemplateKind.HTTP.value or not session.ports:
        raise NotFound(f"session {session_id} serves no web app", code="session_not_found")
    if LeaseState(session.state).is_terminal:
        raise NotFound(f"session {session_id} has ended", code="session_ended")
    if session.state != LeaseState.READY.value:
        raise Conflict(f"the session is {session.state}", code="session_not_ready")
    refuse_if_past(session)
    port = next(iter(session.ports.values()))
    if connection is not None:
        connection.state.app_token = context.sessions.secret_of(session)
        # For bridge_websocket's deadline timer.
        connection.state.workspace_deadline = (
            session.expires_at,
            reloader(context.sessions, user, session_id),
        )
    return f"http://{context.settings.publish_address}:{port}"


async def _target(connection: HTTPConnection, session_id: str) -> tuple[Context, User, str]:
    """The caller (login cookie or bearer token) and the upstream base of a session
    they may reach.

    Raises:
        NotFound: not authenticated as its owner or an admin (see :func:`session_upstream`).
        Conflict: the session is not ready.
    """
    context: Context = connection.app.state.context
    try:
        user = await user_from_connection(connection, context)
    except MoorageError as exc:
        raise NotFound(f"no session {session_id}", code="session_not_found") from exc
    return context, user, await session_upstream(context, user, session_id, connection)


def _moorage_cookie(name: str) -> bool:
    """Moorage's own cookies (login, workspace) never reach an app, nor come from one."""
    return name == COOKIE_NAME or name.startswith(COOKIE_PREFIX)


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
        kept = "; ".join(f"{k}={m.coded_value}" for k, m in jar.items() if not _moorage_cookie(k))
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


def _without_frame_ancestors(policy: str) -> str:
    """``policy`` (a Content-Security-Policy value) without its ``frame-ancestors``
    directive: who may frame a workspace app is Moorage's decision."""
    kept = [
        directive.strip()
        for directive in policy.split(";")
        if directive.strip() and directive.split()[0].lower() != "frame-ancestors"
    ]
    return "; ".join(kept)


def _response_headers(
    upstream: aiohttp.ClientResponse, *, sandbox: bool, frame_ancestors: str
) -> list[tuple[str, str]]:
    headers = []
    for key, value in upstream.headers.items():
        name = key.lower()
        if name in HOP_BY_HOP or name == "x-frame-options":
            continue
        if name == "content-security-policy":
            value = _without_frame_ancestors(value)
            if not value:
                continue
        if name == "set-cookie":
            cookie = SimpleCookie()
            with contextlib.suppress(Exception):
                cookie.load(value)
            if sandbox or not cookie or any(_moorage_cookie(k) for k in cookie):
                continue
        headers.append((name, value))
    if "Content-Length" in upstream.headers and not upstream.headers.get("Transfer-Encoding"):
        headers.append(("content-length", upstream.headers["Content-Length"]))
    if sandbox:
        headers.append(("content-security-policy", SANDBOX_CSP))
    headers.append(("content-security-policy", f"frame-ancestors {frame_ancestors}"))
    return headers


async def forward(
    request: Request,
    context: Context,
    base: str,
    *,
    sandbox: bool,
    frame_ancestors: str,
    path: str | None = None,
) -> Response:
    """Forward one request to ``base`` (``http://host:port``), streaming the body
    both ways. ``path`` defaults to the request's. ``sandbox``: add
    :data:`SANDBOX_CSP` and drop every ``Set-Cookie``; otherwise only cookies
    named like Moorage's are dropped. ``frame_ancestors`` (CSP source list) says
    who may frame the answer, in place of the app's own ``frame-ancestors`` and
    ``X-Frame-Options``: Moorage's app page, and nothing else.

    Raises:
        RuntimeUnavailable: the app does not answer.
    """
    url = f"{base}{path or request.url.path}"
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
    headers = _response_headers(upstream, sandbox=sandbox, frame_ancestors=frame_ancestors)
    response = StreamingResponse(
        upstream.content.iter_any(),
        status_code=upstream.status,
        background=BackgroundTask(upstream.release),
    )
    response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return response


@router.api_route("/s/{session_id}/{path:path}", methods=METHODS, dependencies=[GatewayOwner])
async def proxy_http(session_id: str, path: str, request: Request) -> Response:
    """Single-origin mode: forward one request, sandboxed. Workspace-origin mode:
    a GET redirects to the workspace origin with a one-time ticket (303); other
    methods get 404."""
    context, user, base = await _target(request, session_id)
    settings = context.settings
    if not settings.workspace_origin_mode:
        return await forward(
            request, context, base, sandbox=True, frame_ancestors=SAME_ORIGIN_FRAMING
        )
    if request.method not in ("GET", "HEAD"):
        raise NotFound("the web app is served from its workspace origin", code="not_found")
    origin = settings.workspace_origin(
        request.url.scheme, request.headers.get("host", ""), session_id
    )
    ticket = issue_ticket(context.keyring, session_id, user.id)
    query = urlencode([*request.query_params.multi_items(), (TICKET_PARAM, ticket)])
    return RedirectResponse(f"{origin}{request.url.path}?{query}", status_code=303)


@router.websocket("/s/{session_id}/{path:path}", dependencies=[GatewayOwner])
async def proxy_websocket(websocket: WebSocket, session_id: str, path: str) -> None:
    """Single-origin mode: bridge a same-origin websocket to the web app (4403 when
    cross-site). Workspace-origin mode: refused (4404), the app's sockets go to its origin."""
    if cross_site(websocket):
        await websocket.close(code=4403)
        return
    try:
        context, _user, base = await _target(websocket, session_id)
        if context.settings.workspace_origin_mode:
            raise NotFound("the web app is served from its workspace origin")
    except MoorageError as exc:
        await websocket.close(code=4404 if isinstance(exc, NotFound) else 4409)
        return
    await bridge_websocket(websocket, context, base)


async def bridge_websocket(websocket: WebSocket, context: Context, base: str) -> None:
    """Bridge ``websocket`` to the same path on ``base``, frame by frame (text
    stays text); closes 1011 when the app refuses."""
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
