"""The seed systems' own APIs, served by Moorage (``MOORAGE_COMPAT``).

People run the five seed systems (``../shared/seeds/``) with scripts, web clients
and agents written against their APIs. Each module here is one router at the
seed's own paths, methods, parameters and response fields, and nothing else: a
thin translation onto Moorage's services, which check roles and write the audit
log (no second implementation of anything).

=============  =============================================  ================
router         paths                                          seed
=============  =============================================  ================
``winux``      ``/api/winux/...``                             000 Winux
``iac``        ``/healthz``, ``/available``, ``/machines`` …  002 Projet-IAC
``flowcase``   ``/api/droplets``, ``/api/instance(s)/...``    001 Flowcase
``dashfleet``  ``/api/fleet…``, ``/api/status``, ``/api/action`` …  004 DashFleet
=============  =============================================  ================

Each router is off until named in ``MOORAGE_COMPAT``. Callers authenticate as on
``/api/v1`` (login cookie, ``Authorization: Bearer``) or with an org API key
(:mod:`moorage.services.orgs`, also accepted as ``X-API-Key``); the seeds had no
authentication, so a router can map anonymous callers to a named user
(``MOORAGE_COMPAT_ANONYMOUS_USERS``), which :func:`exposure_error` refuses unless
Moorage listens on loopback or sits behind trusted proxies. See
:mod:`moorage.api.compat._auth`.

Routes whose path is also a page of Moorage (Projet-IAC's ``GET /machines`` and
``GET /reservations``) use :class:`ApiClientRoute`: they answer API clients,
and a browser asking for HTML still gets the page.
"""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from moorage.api.errors import validation_error
from moorage.config import Settings
from moorage.errors import MoorageError

__all__ = [
    "ApiClientRoute",
    "SeedErrorRoute",
    "compat_paths",
    "exposure_error",
    "include_compat_routers",
]


def include_compat_routers(app: FastAPI, settings: Settings) -> list[str]:
    """Include the router of every seed API named in ``settings.compat``, in the
    order of :data:`moorage.config.COMPAT_ROUTERS`; returns their names. Call it
    before the pages are mounted, so a seed path shared with a page is tried first."""
    enabled = settings.compat_router_list
    for name in enabled:
        module = importlib.import_module(f"moorage.api.compat.{name}")
        app.include_router(module.router)
    return enabled


def compat_paths(settings: Settings) -> list[str]:
    """The path prefixes of the seed APIs switched on, as their modules declare them
    in ``PATHS`` (each prefix also covers the paths below it): where CORS applies
    and, outside ``/api/``, which paths are API calls rather than pages."""
    paths: list[str] = []
    for name in settings.compat_router_list:
        module = importlib.import_module(f"moorage.api.compat.{name}")
        paths.extend(getattr(module, "PATHS", ()))
    return paths


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_error(settings: Settings, host: str) -> str | None:
    """Why Moorage must not start listening on ``host`` with these settings, or None.

    Anonymous callers mapped to a user (``MOORAGE_COMPAT_ANONYMOUS_USERS``) are only
    safe when nobody but a reverse proxy that authenticates can reach Moorage: it
    listens on loopback, or ``MOORAGE_TRUSTED_PROXIES`` names the proxies.
    """
    mapped = {
        router: user
        for router, user in settings.compat_anonymous_user_map.items()
        if router in settings.compat_router_list
    }
    if not mapped or _is_loopback(host) or settings.trusted_proxy_networks:
        return None
    pairs = ", ".join(f"{router}={user}" for router, user in sorted(mapped.items()))
    return (
        f"MOORAGE_COMPAT_ANONYMOUS_USERS ({pairs}) lets anyone act as those users; "
        f"listen on 127.0.0.1 behind an authenticating reverse proxy, or set "
        f"MOORAGE_TRUSTED_PROXIES, instead of listening on {host}"
    )


def _wants_html(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return b"text/html" in value
    return False


class ApiClientRoute(APIRoute):
    """A route that matches only requests not asking for HTML.

    For seed paths that are also Moorage pages: ``curl`` and scripts (``Accept``
    absent, ``*/*`` or JSON) get the seed's JSON, and a browser, whose navigation
    sends ``Accept: text/html…``, falls through to the page. Use it as a router's
    ``route_class``.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and scope["type"] == "http" and _wants_html(scope):
            return Match.NONE, {}
        return match, child


class SeedErrorRoute(APIRoute):
    """A route that answers errors in a seed's own shape: a
    :class:`~moorage.errors.MoorageError` (and a request that fails validation,
    as :func:`~moorage.api.errors.validation_error` words it) becomes
    ``error_body(error)`` as JSON, with Moorage's status code. Subclass it, define
    :meth:`error_body`, and use the subclass as the router's ``route_class``."""

    @staticmethod
    def error_body(error: MoorageError) -> dict[str, Any]:
        """The JSON body of ``error`` in the seed's shape."""
        raise NotImplementedError

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        error_body = self.error_body

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                error: MoorageError = validation_error(exc)
            except MoorageError as exc:
                error = exc
            return JSONResponse(error_body(error), status_code=error.status_code)

        return run
