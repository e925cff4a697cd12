"""The request id: one per HTTP request or websocket, in every log line written while
it is served and in the audit events it causes.

:class:`RequestIdMiddleware` (pure ASGI, outermost) takes the caller's
``X-Request-ID`` when it is well-formed (1 to 64 characters of ``A-Z a-z 0-9 . _ : -``,
as proxies such as nginx's ``$request_id`` or Heroku's router send), else makes one
(32 hex digits), keeps it in a context variable for the request's task, and returns
it in the response's ``X-Request-ID`` header.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestIdMiddleware", "current_request_id", "well_formed"]

HEADER = "X-Request-ID"

_VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

_request_id: ContextVar[str | None] = ContextVar("moorage_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served by this task; None outside one (the
    reconciler, jobs, the CLI)."""
    return _request_id.get()


def well_formed(value: str) -> bool:
    """True when ``value`` may be used as a request id as given (see the module doc)."""
    return _VALID.fullmatch(value) is not None


class RequestIdMiddleware:
    """Sets the request id of every HTTP request and websocket (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if well_formed(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = _request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                if message["type"] == "http.response.start":
                    MutableHeaders(scope=message)[HEADER] = request_id
                else:
                    headers = list(message.get("headers", []))
                    headers.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)
