"""Forwarded headers from trusted reverse proxies only (``MOORAGE_TRUSTED_PROXIES``).

A request whose peer address is in one of the trusted networks has its
``X-Forwarded-For`` (the client address: audit events, rate limits),
``X-Forwarded-Proto`` (the scheme: generated URLs, websocket origins) and
``X-Forwarded-Host`` (the ``Host`` header: generated URLs) believed; anybody
else's are ignored. For and Proto are uvicorn's :class:`ProxyHeadersMiddleware`
(which walks ``X-Forwarded-For`` from the right past the trusted hops); Host is
added here, since uvicorn does not read it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

__all__ = ["ForwardedHeaders"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForwardedHeaders:
    """ASGI middleware believing ``X-Forwarded-*`` from ``networks`` only.

    Args:
        app: the application.
        networks: the trusted proxies' addresses (``Settings.trusted_proxy_networks``).
    """

    def __init__(self, app: ASGIApp, networks: Sequence[Network]) -> None:
        self._networks = list(networks)
        self._proxied = ProxyHeadersMiddleware(
            app,  # type: ignore[arg-type]
            trusted_hosts=[str(network) for network in self._networks],
        )
        self._app = app

    def _trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._trusted(scope):
            await self._app(scope, receive, send)
            return
        forwarded = [v for k, v in scope["headers"] if k == b"x-forwarded-host"]
        # The nearest proxy's value: the last one (a proxy that appends writes it last).
        host = forwarded[-1].split(b",")[-1].strip() if forwarded else b""
        if host and all(32 < c < 127 and c not in b"/\\@?#" for c in host):
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [
                (b"host", host)
            ]
        await self._proxied(scope, receive, send)  # type: ignore[arg-type]
