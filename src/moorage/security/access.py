"""Who may call a route: one declaration per route, enforced when the route runs.

Every route of the app (API, ``/ui`` forms, pages, websockets, the ``/s/`` proxy)
names in its decorator, once, who may reach it::

    @router.get("/machines", dependencies=[Allow(Role.OPERATOR)])
    @router.post("/agents/report", dependencies=[Agent])
    @router.get("/sessions/{session_id}", dependencies=[Owner])
    @router.get("/health", dependencies=[Public])

The declarations, least to most demanding:

* :data:`Public` — anyone, logged in or not (sign-in, health, the agent's files).
* :data:`Agent` — a machine's agent; the handler checks the enrolment or agent
  token in the request body or path (no user is involved).
* :data:`Owner` — any logged-in user, on an object the service then checks is
  theirs (or that they are an admin; 404 otherwise). :data:`GatewayOwner` is the
  same for the gateway's websockets and ``/s/`` proxy, whose handlers
  authenticate themselves (a stranger gets 404, not 401).
* :data:`GatewayShared` — like :data:`GatewayOwner`, and also the holder of a
  share grant to that one session (:mod:`moorage.services.share_access`), with
  the grant's role enforced by the gateway; the shared session's page too.
* ``Allow(role)`` — a user of ``role`` or a higher one (roles are ordered, see
  :mod:`moorage.security.rbac`).

At runtime ``Allow`` and ``Owner`` authenticate the caller (401
``unauthenticated``, which pages turn into a redirect to ``/login``) and
``Allow`` checks the role (403 ``forbidden``). On websockets the declaration is
recorded but the handshake handler enforces it, because only it can close the
socket with the gateway's close codes. Services keep their own role checks too,
so no entry point relies on the declaration alone.

``tests/unit/security/test_access.py`` walks the app's route table, requires
exactly one declaration per route, and compares them with its expected matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends
from fastapi.params import Depends as DependsParam
from starlette.requests import HTTPConnection

from moorage.models.user import Role
from moorage.security.auth import get_current_user
from moorage.security.rbac import require_role

__all__ = [
    "FRAMEWORK_ROUTES",
    "Access",
    "AdminOrMetricsToken",
    "Agent",
    "Allow",
    "GatewayOwner",
    "GatewayShared",
    "Owner",
    "Public",
    "declarations_of",
]

Kind = Literal["public", "agent", "owner", "shared", "role"]


@dataclass(frozen=True)
class Access:
    """Who may reach a route: ``kind`` and, for ``"role"``, the least ``role``.

    Called by FastAPI as a route dependency before the handler and before body
    validation matters (a refused caller changes nothing).

    Raises:
        Unauthenticated: ``owner`` or ``role`` without a valid credential.
        Forbidden: ``role`` and the caller's role is lower.
    """

    kind: Kind
    role: Role | None = None
    in_handler: bool = False
    """True when the handler itself authenticates (the gateway, which answers a
    stranger with 404 so a session's existence does not leak)."""

    async def __call__(self, connection: HTTPConnection) -> None:
        if self.kind in ("public", "agent", "shared") or self.in_handler:
            return
        if connection.scope["type"] != "http":
            return
        user = await get_current_user(connection)  # type: ignore[arg-type]
        if self.role is not None:
            require_role(user, self.role)

    def __str__(self) -> str:
        return self.role.value if self.role is not None else self.kind


def _declare(access: Access) -> Any:
    return Depends(access)


Public: Any = _declare(Access("public"))
"""Anyone: no credential needed."""

Agent: Any = _declare(Access("agent"))
"""A machine's agent, authenticated by the handler from its enrolment/agent token."""

Owner: Any = _declare(Access("owner"))
"""Any logged-in user; the service or gateway checks the object is theirs."""


GatewayOwner: Any = _declare(Access("owner", in_handler=True))
"""Any logged-in user who owns the session (or an admin), checked by the gateway
during the request or websocket handshake (404 / close code 4404 otherwise)."""


GatewayShared: Any = _declare(Access("shared", in_handler=True))
"""The session's owner (or an admin), or the holder of a share grant to it: the
handler admits the caller and enforces the grant's role (404 / close code 4404 to
anyone else)."""
AdminOrMetricsToken: Any = _declare(Access("role", Role.ADMIN, in_handler=True))
"""An admin, or a scraper sending ``MOORAGE_METRICS_TOKEN`` as its bearer token,
checked by the handler (``GET /metrics``)."""


def Allow(role: Role) -> Any:
    """The declaration "``role`` or a higher role", for a route's ``dependencies``."""
    return _declare(Access("role", role))


FRAMEWORK_ROUTES: dict[str, Access] = {
    "/api/openapi.json": Access("public"),
    "/api/docs": Access("public"),
    "/docs/oauth2-redirect": Access("public"),
    "/static": Access("public"),
}
"""Routes the framework adds (OpenAPI document, docs page, static files), which
take no dependencies; they are public and declared here instead."""


def declarations_of(route: object, path: str) -> list[Access]:
    """Every :class:`Access` declared on ``route`` (found at ``path``); a
    well-declared route has exactly one."""
    found = [
        dependency.dependency
        for dependency in getattr(route, "dependencies", None) or ()
        if isinstance(dependency, DependsParam) and isinstance(dependency.dependency, Access)
    ]
    if not hasattr(route, "dependencies") and path in FRAMEWORK_ROUTES:
        found.append(FRAMEWORK_ROUTES[path])
    return found
