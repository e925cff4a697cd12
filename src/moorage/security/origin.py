"""Same-origin checks for cookie-authenticated unsafe requests and websockets.

A browser sends the login cookie with any request to Moorage, including one
made by another site's page (SameSite=Lax still lets top-level form posts and
websockets through). Such a request carries an ``Origin`` header (RFC 6454)
naming the page's site; Moorage refuses it when that host differs from the
``Host`` it was reached at. Requests with a bearer token are not at risk: a
foreign page cannot read or attach the token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from moorage.errors import Forbidden

__all__ = ["cross_site", "require_same_origin"]


def cross_site(connection: HTTPConnection) -> bool:
    """True when a request or websocket without a bearer token comes from a page
    of another site (its ``Origin`` host is not the ``Host`` header)."""
    origin = connection.headers.get("origin")
    if not origin or connection.headers.get("authorization"):
        return False
    return urlsplit(origin).netloc != connection.headers.get("host")


def require_same_origin(connection: HTTPConnection) -> None:
    """Refuse a form post sent from another site's page (belt and braces with SameSite).

    Raises:
        Forbidden: code ``cross_site``.
    """
    origin = connection.headers.get("origin")
    if origin and urlsplit(origin).netloc != connection.headers.get("host"):
        raise Forbidden("cross-site form post refused", code="cross_site")
