"""Counts HTTP requests by method, route template and status (ASGI middleware).

The route is the matched route's path template (``/api/v1/sessions/{session_id}``),
never the raw path, so the number of series stays bounded whatever clients ask;
requests that match no route count as ``unmatched``. Websockets are not requests
here (:data:`~moorage.observability.metrics.GATEWAY_CONNECTIONS` counts them).
"""

from __future__ import annotations

import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.observability.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

__all__ = ["ROUTE_KEY", "HttpMetrics", "route_template"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

ROUTE_KEY = "moorage.route"
"""Scope key an ASGI handler answering before routing (the agents' report fast path)
sets to the route template it serves."""


def route_template(scope: Scope) -> str:
    """The full template of the route that served ``scope``, or ``unmatched``.

    The matched route knows its own template only below the prefixes of the routers
    that include it (``/sessions/{session_id}`` under ``/api/v1``); the prefix is the
    part of the request's path before where the route's pattern matches (prefixes
    have no parameters here)."""
    if ROUTE_KEY in scope:
        return str(scope[ROUTE_KEY])
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return "unmatched"
    pattern = getattr(route, "path_regex", None)
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if isinstance(pattern, re.Pattern):
        start = 0
        while start >= 0:
            if pattern.match(path[start:]):
                return path[:start] + template
            start = path.find("/", start + 1)
    return template


class HttpMetrics:
    """Records every HTTP request's route, status and time to its response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"] if scope["method"] in _METHODS else "other"
        status = 500  # an exception before any response is answered 500 by the server

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                HTTP_REQUEST_SECONDS.labels(method, route_template(scope)).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            HTTP_REQUESTS.labels(method, route_template(scope), str(status)).inc()
