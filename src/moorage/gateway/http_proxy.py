"""Reverse proxy for workspaces of kind ``http``: ``/s/<session-id>/…`` → the
container's web app, through the port it publishes on the publish address.

* Only the session's owner or an admin, or the holder of a share grant to it
  (:mod:`moorage.services.share_access`), gets through; anyone else gets 404, as
  if the session did not exist. An observer's requests pass only with GET, HEAD
  or OPTIONS (others get 403 ``read_only``), and its websocket frames are dropped
  (the app's own frames still reach it).
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
* Bodies are streamed both ways (never buffered) and compressed bodies pass
  through as they are; websockets are bridged frame by frame
  (:mod:`moorage.gateway.http_websocket`).

aiohttp is the client: it is already a dependency (through aiodocker) and
speaks both HTTP and websockets.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import aiohttp
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response, StreamingResponse

from moorage.errors import Conflict, Forbidden, MoorageError, NotFound, RuntimeUnavailable
from moorage.gateway.app_activity import count_activity
from moorage.gateway.deadline import refuse_if_past, reloader
from moorage.gateway.reach import published
from moorage.gateway.workspace_origin import COOKIE_PREFIX, TICKET_PARAM, issue_ticket
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import TemplateKind
from moorage.models.user import User
from moorage.security.access import GatewayShared
from moorage.security.auth import COOKIE_NAME
from moorage.services.share_access import SAFE_METHODS, Admission, admit
from moorage.services.shares import SHARE_COOKIE_PREFIX

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = [
    "SAME_ORIGIN_FRAMING",
    "SANDBOX_CSP",
    "forward",
    "refuse_unsafe",
    "router",
    "session_upstream",
    "upstream_of",
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
    :func:`~moorage.gateway.http_websocket.bridge_websocket`. Past the deadline,
    refused (access ends then).

    Raises:
        NotFound: not its owner or an admin, no such session, not http, or ended.
        Conflict: the session is not ready.
    """
    try:
        session: WorkspaceSession = await context.sessions.get(user, session_id)
    except MoorageError as exc:
        raise NotFound(f"no session {session_id}", code="session_not_found") from exc
    return await upstream_of(context, session, connection)


async def upstream_of(
    context: Context, session: WorkspaceSession, connection: HTTPConnection | None = None
) -> str:
    """The upstream base ``http://host:port`` of ``session``, already admitted (see
    :func:`session_upstream`).

    Raises:
        NotFound: not http, or ended. Conflict: not ready.
    """
    session_id = session.id
    if session.template.kind != TemplateKind.HTTP.value or not session.ports:
        raise NotFound(f"session {session_id} serves no web app", code="session_not_found")
    if LeaseState(session.state).is_terminal:
        raise NotFound(f"session {session_id} has ended", code="session_ended")
    if session.state != LeaseState.READY.value:
        raise Conflict(f"the session is {session.state}", code="session_not_ready")
    refuse_if_past(session)
    host, port = await published(context, session, next(iter(session.ports)))
    if connection is not None:
        connection.state.app_token = context.sessions.secret_of(session)
        count_activity(context, session, connection)
        # For http_websocket.bridge_websocket's deadline timer.
        connection.state.workspace_deadline = (
            session.expires_at,
            reloader(context.sessions, session_id),
        )
    return f"http://{host}:{port}"


async def _target(connection: HTTPConnection, session_id: str) -> tuple[Context, Admission, str]:
    """Who the caller is in the session (owner, admin, or a share grant's holder) and
    the upstream base of its app.

    Raises:
        NotFound: no admission (a stranger, a revoked grant: as if there were no
            session), not http, or ended.
        Forbidden: a grant used cross-site.
        Conflict: the session is not ready.
    """
    context: Context = connection.app.state.context
    try:
        admission = await admit(context.shares, context.sessions, connection, session_id)
    except Forbidden:
        raise
    except MoorageError as exc:
        raise NotFound(f"no session {session_id}", code="session_not_found") from exc
    return context, admission, await upstream_of(context, admission.session, connection)


def refuse_unsafe(admission: Admission, method: str) -> None:
    """Observers only look: anything but GET, HEAD and OPTIONS is refused (Forbidden
    ``read_only``)."""
    if not admission.may_control and method.upper() not in SAFE_METHODS:
        raise Forbidden(
            "you are observing this session: only GET, HEAD and OPTIONS pass",
            code="read_only",
        )


def _moorage_cookie(name: str) -> bool:
    """Moorage's own cookies (login, workspace, share grants) never reach an app, nor
    come from one."""
    return (
        name == COOKIE_NAME
        or name.startswith(COOKIE_PREFIX)
        or name.startswith(SHARE_COOKIE_PREFIX)
    )


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


@router.api_route("/s/{session_id}/{path:path}", methods=METHODS, dependencies=[GatewayShared])
async def proxy_http(session_id: str, path: str, request: Request) -> Response:
    """Single-origin mode: forward one request, sandboxed (an observer's unsafe
    methods get 403). Workspace-origin mode: a GET redirects to the workspace origin
    with a one-time ticket (303); other methods get 404."""
    context, admission, base = await _target(request, session_id)
    refuse_unsafe(admission, request.method)
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
    user_id = admission.user.id if admission.user is not None else ""
    grant_id = admission.guest.grant_id if admission.guest is not None else None
    ticket = issue_ticket(context.keyring, session_id, user_id, grant_id=grant_id)
    query = urlencode([*request.query_params.multi_items(), (TICKET_PARAM, ticket)])
    return RedirectResponse(f"{origin}{request.url.path}?{query}", status_code=303)
