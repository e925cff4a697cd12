"""Who is calling a seed API: the declaration :func:`Compat` and :func:`compat_user`.

A caller of a compatibility router is, in this order:

1. the user of ``Authorization: Bearer <token>``, or of the login cookie (on
   routes that change something on ``GET``, as the seeds' ``/reserve`` and
   ``/destroy`` do, only from a page of Moorage's own origin, which browsers say
   with ``Sec-Fetch-Site: same-origin`` (Fetch Metadata, W3C): a link on another
   site could otherwise make a browser follow them with the cookie);
2. the org's service user of an org API key sent as ``X-API-Key: <key>``
   (:mod:`moorage.services.orgs`; the key also works as a bearer token);
3. with neither, the user ``MOORAGE_COMPAT_ANONYMOUS_USERS`` maps the router's
   anonymous callers to, when the operator opted in for that router.

Otherwise 401 ``unauthenticated``. The role is then checked like ``Allow(role)``
(403 ``forbidden``), and the services check ownership and roles again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import select
from starlette.requests import HTTPConnection

from moorage.api.errors import API_SCOPE_KEY
from moorage.errors import Unauthenticated
from moorage.models.user import Role, User
from moorage.security.access import Access
from moorage.security.auth import COOKIE_NAME, authenticate_token, writes
from moorage.security.rbac import require_role

__all__ = ["API_KEY_HEADER", "Compat", "CompatAccess", "compat_user"]

API_KEY_HEADER = "x-api-key"


async def _caller(connection: HTTPConnection, router: str, *, cookie: bool) -> User:
    header = connection.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    credential = bearer.strip() if scheme.lower() == "bearer" and bearer.strip() else None
    credential = credential or connection.headers.get(API_KEY_HEADER, "").strip() or None
    same_origin = connection.headers.get("sec-fetch-site") == "same-origin"
    if credential is None and (cookie or same_origin):
        credential = connection.cookies.get(COOKIE_NAME)
    context = connection.app.state.context
    async with context.sessionmaker() as db:
        if credential:
            # Routes that change something on GET (cookie=False) refuse read tokens too.
            return await authenticate_token(
                db, credential, writing=writes(connection) or not cookie
            )
        username = context.settings.compat_anonymous_user_map.get(router)
        if not username:
            how = "send Authorization: Bearer <token> or X-API-Key: <org API key>"
            if cookie:
                how = "log in, or " + how
            raise Unauthenticated(how)
        user = await db.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise Unauthenticated(
            f"MOORAGE_COMPAT_ANONYMOUS_USERS maps anonymous {router} callers to "
            f"{username!r}, who does not exist or is disabled"
        )
    return user


@dataclass(frozen=True)
class CompatAccess(Access):
    """``Allow(role)`` for a seed API route of router ``router`` (see the module
    docstring for who the caller is). Sets ``request.state.user``.

    Raises:
        Unauthenticated: no usable credential and no anonymous mapping.
        Forbidden: the caller's role is lower than ``role``.
    """

    router: str = ""
    cookie: bool = True

    async def __call__(self, connection: HTTPConnection) -> None:
        if connection.scope["type"] != "http":
            return
        connection.scope[API_SCOPE_KEY] = True  # errors answer JSON, never a login page
        user = getattr(connection.state, "user", None)
        if user is None:
            user = await _caller(connection, self.router, cookie=self.cookie)
            connection.state.user = user
        if self.role is not None:
            require_role(user, self.role)


def Compat(router: str, role: Role, *, cookie: bool = True) -> Any:
    """The declaration "``role`` or higher, as a caller of seed API ``router``", for
    a route's ``dependencies``. ``cookie=False`` for routes that change something
    on ``GET`` (the login cookie is then accepted from same-origin pages only)."""
    return Depends(CompatAccess("role", role, router=router, cookie=cookie))


async def _compat_user(request: Request) -> User:
    user = getattr(request.state, "user", None)
    if user is None:  # a route without a Compat declaration
        raise Unauthenticated("log in or send an Authorization: Bearer token")
    return user


compat_user: Any = Depends(_compat_user)
"""Handler parameter default: the caller the route's :func:`Compat` declaration
found (``user: User = compat_user``)."""
