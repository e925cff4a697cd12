"""CORS for the seed APIs only: Starlette's :class:`CORSMiddleware` on their paths.

The seeds' browser clients (Winux's static ``index.html``) may be served from
another origin than Moorage, e.g. by nginx; their ``fetch`` calls need CORS
(Fetch Standard). Only the origins of ``MOORAGE_COMPAT_CORS_ORIGINS`` are
allowed, only on the seed APIs' paths, and without credentials: such a client
authenticates with a header (``Authorization: Bearer``, ``X-API-Key``) or
relies on the anonymous mapping behind an authenticating proxy, never on the
login cookie, so the rest of Moorage keeps its same-origin rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.security.csrf import route_path

__all__ = ["CompatCors"]

ALLOWED_METHODS = ("GET", "POST", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Content-Type", "Authorization", "X-API-Key")


class CompatCors:
    """ASGI middleware: requests under one of ``paths`` go through
    :class:`CORSMiddleware` allowing ``origins``; every other request goes to
    ``app`` untouched (no CORS headers, preflights not answered).

    Args:
        app: the wrapped application.
        origins: allowed origins (``scheme://host[:port]``).
        paths: path prefixes of the seed APIs (each also covers the paths below it).
    """

    def __init__(self, app: ASGIApp, *, origins: Iterable[str], paths: Iterable[str]) -> None:
        self.app = app
        self.paths = tuple(path.rstrip("/") for path in paths if path.strip("/"))
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._covers(route_path(scope)):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _covers(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.paths)
