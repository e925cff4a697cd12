"""Which language a request is served in.

In order: the signed-in user's preference (``users.locale``, applied where the user
is resolved, :func:`moorage.security.auth.get_current_user`), else the
``moorage_lang`` cookie the footer's selector sets (it works signed out, on the
login page), else the best of ``Accept-Language`` (RFC 9110, section 12.5.4), else
English. API clients send ``Accept-Language``; browsers send it too.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.i18n import DEFAULT_LANGUAGE, language_of, use_language

__all__ = ["COOKIE", "LanguageMiddleware", "from_accept_language", "request_language"]

COOKIE = "moorage_lang"


def from_accept_language(header: str | None) -> str | None:
    """The supported language ``header`` prefers most (``fr-CA,fr;q=0.9,en;q=0.5``
    gives ``fr``); None when it names none. A region falls back to its language."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        for candidate in (tag, tag.split("-")[0]):
            if found := language_of(candidate):
                return found
    return None


def request_language(headers: Headers) -> str:
    """The language of a request from its cookie or ``Accept-Language`` alone."""
    cookie = None
    for chunk in headers.get("cookie", "").split(";"):
        name, _, value = chunk.strip().partition("=")
        if name == COOKIE:
            cookie = value
    return (
        language_of(cookie)
        or from_accept_language(headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )


class LanguageMiddleware:
    """Sets the language of each HTTP request and websocket before any route runs
    (kept in ``scope["moorage.language"]`` too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            language = request_language(Headers(scope=scope))
            scope["moorage.language"] = language
            use_language(language)
        await self.app(scope, receive, send)
