"""Security headers on Moorage's own pages and API: a pure ASGI middleware.

Every HTTP response outside ``/s/`` (the workspace reverse proxy, whose apps
set their own policy) gets:

* ``Content-Security-Policy: script-src 'self' 'nonce-…'; object-src 'none';
  base-uri 'self'; frame-ancestors 'self'`` — scripts only from ``/static``
  or inline blocks written in Moorage's templates, which carry the response's
  nonce (see :func:`add_script_nonces`); no plugins; no ``<base>`` hijack; no
  framing by other sites. The Swagger page (``/api/docs``) loads its script
  from a CDN and configures it inline, so it gets a looser policy.
* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
* ``Strict-Transport-Security: max-age=31536000`` only when Moorage is served
  over HTTPS (``MOORAGE_COOKIE_SECURE=true``).

Headers the application already set are kept. Plain ASGI, not
``BaseHTTPMiddleware``, so streams, server-sent events and websockets are not
buffered.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import jinja2
from jinja2.ext import Extension
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.security.csrf import route_path

__all__ = [
    "NONCE_SCOPE_KEY",
    "SecurityHeaders",
    "add_script_nonces",
    "content_security_policy",
    "csp_nonce",
]

NONCE_SCOPE_KEY = "moorage.csp_nonce"
"""Where the middleware leaves the response's script nonce in the ASGI scope."""

EXEMPT_PREFIXES = ("/s/",)
DOCS_PATHS = ("/api/docs",)
DOCS_POLICY = (
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'self'"
)
HSTS = "max-age=31536000"


def content_security_policy(nonce: str, *, frame_src: str | None = None, wasm: bool = False) -> str:
    """The policy of Moorage's own responses, allowing inline scripts with ``nonce``;
    with ``frame_src`` (a CSP source list), the page may frame only those sources
    (a session's app page frames its web app); with ``wasm``, scripts may compile
    WebAssembly (``'wasm-unsafe-eval'``: the recording player's terminal emulator)."""
    wasm_source = " 'wasm-unsafe-eval'" if wasm else ""
    policy = (
        f"script-src 'self'{wasm_source} 'nonce-{nonce}'; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'self'"
    )
    return f"{policy}; frame-src {frame_src}" if frame_src else policy


class SecurityHeaders:
    """ASGI middleware adding the headers of the module docstring.

    Args:
        app: the wrapped application.
        hsts: send ``Strict-Transport-Security`` (only behind HTTPS).
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope)
        if scope["type"] != "http" or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope[NONCE_SCOPE_KEY] = nonce
        policy = DOCS_POLICY if path.startswith(DOCS_PATHS) else content_security_policy(nonce)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", policy)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
                if self.hsts:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


@jinja2.pass_context
def csp_nonce(context: jinja2.runtime.Context) -> str:
    """The script nonce of the response being rendered ("" outside a request)."""
    request: Any = context.get("request")
    if request is None:
        return ""
    return str(request.scope.get(NONCE_SCOPE_KEY, ""))


_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


class _ScriptNonces(Extension):
    """Gives every ``<script>`` tag written in a template's source the response's
    nonce. Only the template source is rewritten, at compile time: markup that
    reaches the page through a variable is escaped and never gets a nonce."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return _SCRIPT_TAG.sub('<script nonce="{{ csp_nonce() }}"', source)


def add_script_nonces(env: jinja2.Environment) -> None:
    """Make ``env``'s templates put the response's CSP nonce on their ``<script>`` tags."""
    env.globals["csp_nonce"] = csp_nonce
    env.add_extension(_ScriptNonces)
