"""Cross-site request forgery guard: a pure ASGI middleware.

A browser attaches the login cookie to any request to Moorage, including one
another site's page makes (a form post, ``fetch`` with a ``text/plain`` body, a
websocket). SameSite=Lax stops most of them, not all (same-site subdomains,
older browsers), so every request that could act with the cookie must also
prove it comes from one of Moorage's own pages:

* checked: every websocket handshake and every POST, PUT, PATCH and DELETE
  that carries the login cookie, plus every unsafe request to a page route
  (outside ``/api/`` and ``/s/``) with or without a cookie, so that the login
  form cannot be posted from elsewhere either;
* not checked: GET, HEAD, OPTIONS, and requests with no login cookie that
  are API calls (under ``/api/``, or at a seed API's own path such as
  Projet-IAC's ``/machines``, or carrying ``Authorization`` or ``X-API-Key``,
  headers no form can send: ``Authorization: Bearer`` clients, the agent, the
  CLI, org API keys) or go to a workspace under ``/s/``;
* proof: the ``Origin`` header equals the request's own origin (its scheme
  and ``Host``) or one of ``MOORAGE_TRUSTED_ORIGINS``; without ``Origin``,
  ``Sec-Fetch-Site: same-origin``. Neither header: refused (every browser of
  the last years sends at least one of them on these requests).

Paths are read without the ``root_path`` Moorage may be served under
(``MOORAGE_ROOT_PATH``, e.g. ``/winux`` behind nginx): uvicorn puts it in front
of ``scope["path"]``.

Refusals: 403 ``{"error": {"code": "csrf_refused", ...}}`` under ``/api/``, a
small 403 page elsewhere, and a websocket accepted and closed at once with code
4403, reason ``csrf_refused``. Written as plain ASGI, not
``BaseHTTPMiddleware``, so streamed responses, server-sent events and
websockets pass through untouched.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.errors import Forbidden
from moorage.security.tokens import LOGIN_COOKIE_NAME

__all__ = ["UNSAFE_METHODS", "CsrfGuard", "normalise_origin", "route_path"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_WEBSOCKET_SCHEMES = {"ws": "http", "wss": "https"}


def normalise_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port, or None when
    ``origin`` is not an http(s) origin (``null``, garbage)."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and str(port) != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def route_path(scope: Scope) -> str:
    """The request's path inside the app: ``scope["path"]`` without the
    ``root_path`` uvicorn puts in front of it (ASGI spec; Starlette routes the same way)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root.rstrip("/") + "/")):
        return path[len(root.rstrip("/")) :] or "/"
    return path


def _own_origin(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
    scheme = scope.get("scheme", "http")
    scheme = _WEBSOCKET_SCHEMES.get(scheme, scheme)
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        return None
    return normalise_origin(f"{scheme}://{host}")


class CsrfGuard:
    """ASGI middleware refusing cross-site requests that could act with the login
    cookie (see the module docstring for which requests and what proof).

    Args:
        app: the wrapped application.
        trusted_origins: origins accepted besides the request's own, e.g.
            ``["https://moorage.example.org"]``.
        api_paths: paths outside ``/api/`` that are API calls, not pages (the seed
            APIs switched on, e.g. ``/machines``; each also covers the paths below it).
    """

    def __init__(
        self, app: ASGIApp, trusted_origins: Iterable[str] = (), api_paths: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.trusted = {o for o in map(normalise_origin, trusted_origins) if o is not None}
        self.api_paths = tuple(path.rstrip("/") for path in api_paths if path.strip("/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" or scope["type"] == "websocket":
            headers = dict(scope["headers"])
            if self._needs_proof(scope, headers) and not self._proven(scope, headers):
                await _refuse(scope, send)
                return
        await self.app(scope, receive, send)

    def _needs_proof(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        if scope["type"] == "http" and scope["method"] not in UNSAFE_METHODS:
            return False
        cookie = headers.get(b"cookie")
        if cookie and cookie_parser(cookie.decode("latin-1")).get(LOGIN_COOKIE_NAME):
            return True
        if headers.get(b"authorization") or headers.get(b"x-api-key"):
            return False  # an API client: no form or cross-site page sends these
        path = route_path(scope)
        is_page = not path.startswith(("/api/", "/s/")) and not self._is_api_path(path)
        return scope["type"] == "http" and is_page

    def _is_api_path(self, path: str) -> bool:
        return any(path == api or path.startswith(api + "/") for api in self.api_paths)

    def _proven(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        origin = headers.get(b"origin")
        if origin is not None:
            claimed = normalise_origin(origin.decode("latin-1"))
            if claimed is None:
                return False
            return claimed == _own_origin(scope, headers) or claimed in self.trusted
        return headers.get(b"sec-fetch-site") == b"same-origin"


async def _refuse(scope: Scope, send: Send) -> None:
    error = Forbidden(
        "cross-site request refused: it did not come from one of Moorage's pages "
        "(Origin or Sec-Fetch-Site missing or foreign)",
        code="csrf_refused",
    )
    if scope["type"] == "websocket":
        # Accepted then closed with 4403, as the gateways close a forbidden socket:
        # a client sees the reason, where a refused handshake shows only a 403.
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4403, "reason": "csrf_refused"})
        return
    if route_path(scope).startswith("/api/"):
        body = json.dumps(error.to_dict()).encode()
        content_type = b"application/json"
    else:
        body = (
            "<!doctype html><meta charset=utf-8><title>Refused · Moorage</title>"
            f"<h1>Request refused</h1><p>{html.escape(error.message)}</p>"
            '<p><a href="/">Back to Moorage</a></p>'
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
