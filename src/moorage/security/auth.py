"""Who is calling: the one place that authenticates HTTP requests and websockets.

A caller proves who they are with an API token or the login cookie (both are
tokens, see :mod:`moorage.security.tokens`). The credential is read from
``Authorization: Bearer <token>`` first, then from the login cookie
:data:`COOKIE_NAME`, the same way for requests, pages and websockets.

FastAPI dependencies (used alike by ``api/``, ``web/`` and ``gateway/``):

* :data:`CurrentUser` — any authenticated user (401 ``unauthenticated``
  otherwise; pages turn that into a redirect to ``/login``);
* :data:`MemberUser`, :data:`OperatorUser`, :data:`AdminUser` — that role or a
  higher one (403 ``forbidden`` otherwise); :func:`require` builds others.

This module sits below ``services/`` (which re-export :func:`authenticate_token`)
and never imports them; the process context is read untyped from
``connection.app.state.context``, so ``security`` does not depend on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from moorage.db.base import utcnow
from moorage.errors import Forbidden, Unauthenticated
from moorage.i18n import language_of, use_language
from moorage.models.org import Org
from moorage.models.token import ApiToken, TokenKind, TokenScope
from moorage.models.two_factor import TwoFactor
from moorage.models.user import AuthSource, Role, User
from moorage.security.rbac import require_role
from moorage.security.tokens import LOGIN_COOKIE_NAME, parse_prefix, token_matches

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = [
    "COOKIE_NAME",
    "SAFE_METHODS",
    "AdminUser",
    "CurrentUser",
    "MemberUser",
    "OperatorUser",
    "authenticate_token",
    "credential_of",
    "get_current_user",
    "require",
    "set_login_cookie",
    "setup_reachable",
    "user_from_connection",
    "writes",
]

COOKIE_NAME = LOGIN_COOKIE_NAME
"""Name of the login cookie (HttpOnly, SameSite=Lax, path ``/``)."""


def credential_of(connection: HTTPConnection) -> str | None:
    """The bearer token or login cookie a request or websocket carries, if any.

    ``Authorization: Bearer <token>`` wins over the cookie, so a script's token is
    used even from a browser that is also logged in.
    """
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.cookies.get(COOKIE_NAME)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that only read (RFC 9110, 9.2.1): all a ``read`` token may use."""


def writes(connection: HTTPConnection) -> bool:
    """True when ``connection`` may change something: an unsafe method, or a
    websocket (a terminal or desktop types into a workspace)."""
    if connection.scope["type"] != "http":
        return True
    return connection.scope.get("method", "GET") not in SAFE_METHODS


SETUP_PATHS = frozenset({"/account", "/api/v1/auth/me", "/api/v1/auth/logout", "/logout"})
"""Paths a login cookie still reaches while its user owes the two-factor set-up."""
SETUP_PREFIXES = ("/account/two-factor", "/api/v1/account/two-factor")


def setup_reachable(connection: HTTPConnection) -> bool:
    """True when ``connection``'s path is one of the account set-up paths
    (:data:`SETUP_PATHS`, :data:`SETUP_PREFIXES`), below the app's root path."""
    path = connection.scope.get("path", "")
    root = connection.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path in SETUP_PATHS or path.startswith(SETUP_PREFIXES)


async def _owes_second_factor(db: AsyncSession, user: User) -> bool:
    """True when ``user``'s org requires a second factor of their role and they have
    not enabled one (``Org.two_factor_required_roles``, ``TwoFactor``). Never for a
    user of an OpenID Connect provider: the provider asks its own second factor."""
    if user.auth_source == AuthSource.OIDC.value:
        return False
    roles = await db.scalar(select(Org.two_factor_required_roles).where(Org.id == user.org_id))
    if user.role not in (roles or []):
        return False
    enabled = await db.scalar(select(TwoFactor.enabled_at).where(TwoFactor.user_id == user.id))
    return enabled is None


async def authenticate_token(
    db: AsyncSession,
    plaintext: str,
    now: datetime | None = None,
    *,
    writing: bool = True,
    setup_only: bool = False,
) -> User:
    """The active user a bearer token or login cookie belongs to.

    Args:
        db: a database session (read only).
        plaintext: the whole token as presented (``mrg_<prefix>_<secret>``).
        now: current UTC time (timezone-aware); defaults to the clock.
        writing: the request may change something (see :func:`writes`); a token of
            scope ``read`` is then refused. True unless the caller knows better, so
            a new entry point that forgets to say is safe.
        setup_only: the request is for the two-factor set-up (:func:`setup_reachable`):
            a login cookie of a user who owes the set-up is let through.

    Raises:
        Unauthenticated: malformed, unknown, expired or revoked token, or a
            disabled user (codes ``bad_token``, ``token_expired``).
        Forbidden: a ``read`` token used for ``writing`` (code ``token_read_only``);
            a login cookie of a user whose org requires a second factor of their role
            and who has not set one up, outside ``setup_only``
            (``second_factor_setup_required``; pages redirect to the account page).
            API tokens are not refused: the user made them before the rule applied
            to them, and an admin revokes them if that is not wanted.
    """
    now = now or utcnow()
    prefix = parse_prefix(plaintext)
    if prefix is None:
        raise Unauthenticated("the token is malformed", code="bad_token")
    token = await db.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if token is None or not token_matches(plaintext, token.token_hash):
        raise Unauthenticated("the token is not valid", code="bad_token")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("the token has expired; log in again", code="token_expired")
    user = await db.get(User, token.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("the token's user is disabled", code="bad_token")
    if writing and token.scope == TokenScope.READ.value:
        raise Forbidden(
            "this token's scope is read: it may only read (GET, HEAD); "
            "use a token of scope write to change anything or to open a terminal",
            code="token_read_only",
        )
    login = token.kind == TokenKind.LOGIN.value
    if login and not setup_only and await _owes_second_factor(db, user):
        raise Forbidden(
            "your org requires two-factor sign-in for your role: set it up on your "
            "account page first",
            code="second_factor_setup_required",
        )
    return user


async def user_from_connection(connection: HTTPConnection, context: Context | None = None) -> User:
    """The authenticated user of a request or websocket.

    Args:
        connection: the request or websocket.
        context: the process context; defaults to ``connection.app.state.context``.

    Raises:
        Unauthenticated: no credential, or a bad one.
        Forbidden: a ``read`` token on a request that :func:`writes`.
    """
    credential = credential_of(connection)
    if not credential:
        raise Unauthenticated("log in or send an Authorization: Bearer token")
    context = context if context is not None else connection.app.state.context
    async with context.sessionmaker() as db:
        return await authenticate_token(
            db, credential, writing=writes(connection), setup_only=setup_reachable(connection)
        )


async def get_current_user(request: Request) -> User:
    """FastAPI dependency: the caller, looked up once per request (kept on
    ``request.state.user``, where the error page finds it too).

    Raises:
        Unauthenticated: no credential, or a bad one.
    """
    user = getattr(request.state, "user", None)
    if user is None:
        user = await user_from_connection(request)
        request.state.user = user
        if user.locale and (language := language_of(user.locale)):
            use_language(language)  # the person's choice wins over cookie and browser
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(least: Role) -> Callable[[User], Awaitable[User]]:
    """A FastAPI dependency that answers the caller when their role is ``least``
    or higher.

    Raises (from the dependency):
        Unauthenticated: not logged in. Forbidden: a lower role.
    """

    async def guard(user: CurrentUser) -> User:
        require_role(user, least)
        return user

    guard.__name__ = f"require_{least.value}"
    return guard


MemberUser = Annotated[User, Depends(require(Role.MEMBER))]
OperatorUser = Annotated[User, Depends(require(Role.OPERATOR))]
AdminUser = Annotated[User, Depends(require(Role.ADMIN))]


def set_login_cookie(response: Response, token: str, *, max_age_seconds: int, secure: bool) -> None:
    """Set the login cookie on ``response``: HttpOnly, SameSite=Lax, scoped to the
    whole site, expiring after ``max_age_seconds``."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
