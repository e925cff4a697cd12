"""The workspace origin: a small ASGI app that only proxies workspace web apps.

Served on ``MOORAGE_WORKSPACE_PORT`` (a second listener of ``moorage serve``,
see :func:`workspace_app`) or, with ``MOORAGE_WORKSPACE_DOMAIN``, on the hosts
``<session-id>.<domain>`` that Moorage's own app hands over to it
(:class:`WorkspaceHosts`). It serves ``/s/<id>/…`` only:

* ``?moorage_ticket=…`` (from Moorage's redirect): the ticket is redeemed, the
  workspace cookie ``moorage_ws_<id>`` is set (HttpOnly, path ``/s/<id>/``) and
  the browser is sent to the same URL without the ticket (303);
* otherwise the workspace cookie is the only credential: Moorage's login
  cookie and bearer tokens are ignored here (and never forwarded). The cookie's
  user must still be allowed in the session (owner or admin) on every request.
  Without a valid cookie a GET is sent to Moorage's ``/s/<id>/`` (which issues
  a ticket) when Moorage's origin is known, else 401;
* websockets must come from this origin (``Origin`` equal to its own; else 4403).

The app's own cookies and headers pass through unchanged (they belong to this
origin), except cookies named like Moorage's and the app's framing rules: only the
app itself and Moorage's origin (its app page, ``/sessions/<id>/app``) may frame
it (``Content-Security-Policy: frame-ancestors``). Moorage's origin is the first of
``MOORAGE_TRUSTED_ORIGINS``, else the one ``moorage serve`` gives in port mode.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from moorage.errors import MoorageError, NotFound, Unauthenticated
from moorage.gateway.http_proxy import (
    METHODS,
    forward,
    refuse_unsafe,
    upstream_of,
)
from moorage.gateway.http_websocket import bridge_websocket
from moorage.gateway.workspace_origin import (
    COOKIE_TTL_SECONDS,
    TICKET_PARAM,
    Pass,
    cookie_name,
    issue_cookie,
    read_cookie,
    redeem_ticket,
)
from moorage.models.user import User
from moorage.security.csrf import normalise_origin
from moorage.services.share_access import Admission, admit_pass

if TYPE_CHECKING:
    from moorage.config import Settings
    from moorage.context import Context

__all__ = ["WorkspaceHosts", "workspace_app"]


def _settings_of(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def _context_of(connection: HTTPConnection) -> Context:
    context: Context | None = getattr(connection.app.state.main.state, "context", None)
    if context is None:
        raise NotFound("Moorage is starting")
    return context


def _host_session(connection: HTTPConnection) -> str | None:
    """The session named by the host in domain mode (``<id>.<domain>``), else None."""
    domain = _settings_of(connection).workspace_domain
    host = connection.headers.get("host", "").rsplit(":", 1)[0].lower()
    if domain and host.endswith(f".{domain}"):
        return host[: -len(domain) - 1]
    return None


def _check_host(connection: HTTPConnection, session_id: str) -> None:
    if _settings_of(connection).workspace_domain and _host_session(connection) != session_id:
        raise NotFound(f"no session {session_id} on this host", code="session_not_found")


async def _user_of(context: Context, grant: Pass) -> User:
    async with context.sessionmaker() as db:
        user = await db.get(User, grant.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("the workspace cookie's user is disabled", code="bad_token")
    return user


async def _admission_of(context: Context, grant: Pass) -> Admission:
    """Who the ticket or cookie lets in, checked now: its user as owner or admin, or
    its share grant (revoked, expired or ended: Gone)."""
    user = await _user_of(context, grant) if grant.user_id else None
    return await admit_pass(
        context.shares, context.sessions, grant.session_id, user, grant.grant_id
    )


def _cookie_of(context: Context, session_id: str, grant: Pass) -> str:
    return issue_cookie(context.keyring, session_id, grant.user_id, grant_id=grant.grant_id)


def _set_cookie(
    response: Response, connection: HTTPConnection, session_id: str, value: str
) -> None:
    response.set_cookie(
        cookie_name(session_id),
        value,
        max_age=COOKIE_TTL_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_settings_of(connection).cookie_secure,
        path=f"/s/{session_id}/",
    )


def _moorage_origin(connection: HTTPConnection) -> str | None:
    """Moorage's own origin (``scheme://host[:port]``), when known."""
    settings = _settings_of(connection)
    trusted = settings.trusted_origin_list
    origin = trusted[0].rstrip("/") if trusted else connection.app.state.moorage_origin
    if not origin:
        return None
    if "{host}" in origin:
        origin = origin.format(host=connection.url.hostname or "")
    return str(origin)


def _moorage_entry(connection: HTTPConnection) -> str | None:
    """Moorage's ``/s/<id>/…`` URL for the same path, when Moorage's origin is known."""
    origin = _moorage_origin(connection)
    return f"{origin}{connection.url.path}" if origin else None


def _framers(connection: HTTPConnection) -> str:
    """Who may frame an app here (CSP ``frame-ancestors``): the app itself and
    Moorage's app page; only the app itself while Moorage's origin is unknown."""
    origin = _moorage_origin(connection)
    return f"'self' {origin}" if origin else "'self'"


async def proxy(request: Request) -> Response:
    """One request to a web app on the workspace origin (see the module docstring)."""
    session_id: str = request.path_params["session_id"]
    _check_host(request, session_id)
    context = _context_of(request)
    ticket = request.query_params.get(TICKET_PARAM)
    if ticket is not None:
        grant = redeem_ticket(context.keyring, ticket, session_id)
        await upstream_of(context, (await _admission_of(context, grant)).session, request)
        query = [(k, v) for k, v in request.query_params.multi_items() if k != TICKET_PARAM]
        clean = request.url.path + (f"?{urlencode(query)}" if query else "")
        response: Response = RedirectResponse(clean, status_code=303)
        _set_cookie(response, request, session_id, _cookie_of(context, session_id, grant))
        return response
    value = request.cookies.get(cookie_name(session_id))
    try:
        if value is None:
            raise Unauthenticated("open this workspace from Moorage")
        grant = read_cookie(context.keyring, value, session_id)
    except Unauthenticated:
        entry = _moorage_entry(request)
        if request.method in ("GET", "HEAD") and entry is not None:
            return RedirectResponse(entry, status_code=303)
        raise
    admission = await _admission_of(context, grant)
    refuse_unsafe(admission, request.method)
    base = await upstream_of(context, admission.session, request)
    response = await forward(
        request, context, base, sandbox=False, frame_ancestors=_framers(request)
    )
    if grant.expires - time.time() < COOKIE_TTL_SECONDS / 2:
        _set_cookie(response, request, session_id, _cookie_of(context, session_id, grant))
    return response


async def proxy_websocket(websocket: WebSocket) -> None:
    """A web app's websocket on the workspace origin: the same origin and a valid
    workspace cookie, else closed 4403 / 4404 / 4409."""
    session_id: str = websocket.path_params["session_id"]
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    own = normalise_origin(f"{scheme}://{websocket.headers.get('host', '')}")
    claimed = normalise_origin(websocket.headers.get("origin", ""))
    if claimed is None or claimed != own:
        await websocket.close(code=4403)
        return
    try:
        _check_host(websocket, session_id)
        context = _context_of(websocket)
        value = websocket.cookies.get(cookie_name(session_id))
        if value is None:
            raise Unauthenticated("no workspace cookie")
        grant = read_cookie(context.keyring, value, session_id)
        admission = await _admission_of(context, grant)
        base = await upstream_of(context, admission.session, websocket)
    except MoorageError as exc:
        codes = {401: 4401, 404: 4404, 409: 4409, 410: 4410}
        await websocket.close(code=codes.get(exc.status_code, 4404))
        return
    await bridge_websocket(websocket, context, base, admission)


async def root(request: Request) -> Response:
    """Domain mode: ``https://<id>.<domain>/`` → the app at ``/s/<id>/``."""
    session_id = _host_session(request)
    if session_id is None:
        raise NotFound("no workspace here")
    return RedirectResponse(f"/s/{session_id}/", status_code=303)


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MoorageError)
    if "text/html" in request.headers.get("accept", ""):
        body = (
            "<!doctype html><meta charset=utf-8><title>Workspace · Moorage</title>"
            f"<h1>{exc.status_code}</h1><p>{html.escape(exc.message)}</p>"
        )
        return Response(body, status_code=exc.status_code, media_type="text/html")
    return JSONResponse(exc.to_dict(), status_code=exc.status_code)


def workspace_app(main: Any, settings: Settings, moorage_origin: str | None = None) -> Starlette:
    """The workspace-origin app.

    Args:
        main: Moorage's app; its ``state.context`` (set by its lifespan) is used.
        settings: the process settings.
        moorage_origin: Moorage's origin for redirects without a cookie;
            ``{host}`` is replaced by the request's host name (port mode:
            ``http://{host}:8000``). ``MOORAGE_TRUSTED_ORIGINS``' first entry wins.
    """
    app = Starlette(
        routes=[
            Route("/", root),
            Route("/s/{session_id}/{path:path}", proxy, methods=METHODS),
            WebSocketRoute("/s/{session_id}/{path:path}", proxy_websocket),
        ],
        exception_handlers={MoorageError: _error},
    )
    app.state.main = main
    app.state.settings = settings
    app.state.moorage_origin = moorage_origin
    return app


class WorkspaceHosts:
    """ASGI middleware for domain mode: requests whose host is ``<x>.<workspace_domain>``
    go to the workspace app, everything else to Moorage's app.

    Args:
        app: Moorage's app (the wrapped application).
        settings: the process settings (``workspace_domain``).
        main: returns Moorage's app (whose ``state.context`` the workspace app
            uses); called per request, so it can name the app being built.
    """

    def __init__(self, app: ASGIApp, settings: Settings, main: Callable[[], object]) -> None:
        self.app = app
        self.domain = settings.workspace_domain
        self.workspace = workspace_app(_Lazy(main), settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.domain and scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host.rsplit(":", 1)[0].lower().endswith(f".{self.domain}"):
                await self.workspace(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Lazy:
    """Looks up ``state`` on an object given later (the app being built)."""

    def __init__(self, get: Callable[[], object]) -> None:
        self._get = get

    @property
    def state(self) -> Any:
        return getattr(self._get(), "state", None)
