"""FastAPI dependencies and their ``Annotated`` aliases.

Credentials are read from ``Authorization: Bearer <token>`` first, then from
the login cookie (the same lookup for HTTP requests and websockets).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from moorage.context import Context
from moorage.db.engine import WRITE_OPTIONS
from moorage.errors import Unauthenticated
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.security.tokens import LOGIN_COOKIE_NAME
from moorage.services.sessions import SessionService
from moorage.services.users import authenticate_token

__all__ = [
    "COOKIE_NAME",
    "AdminUser",
    "ContextDep",
    "CurrentUser",
    "DbDep",
    "SessionServiceDep",
    "WriteDbDep",
    "credential_of",
    "user_from_connection",
]

COOKIE_NAME = LOGIN_COOKIE_NAME


def get_context(connection: HTTPConnection) -> Context:
    return connection.app.state.context


ContextDep = Annotated[Context, Depends(get_context)]


async def get_db(context: ContextDep) -> AsyncIterator[AsyncSession]:
    async with context.sessionmaker() as db:
        yield db


DbDep = Annotated[AsyncSession, Depends(get_db)]


async def get_write_db(context: ContextDep) -> AsyncIterator[AsyncSession]:
    """A session whose transaction will write; the handler commits."""
    async with context.sessionmaker() as db:
        await db.connection(execution_options=WRITE_OPTIONS)
        yield db


WriteDbDep = Annotated[AsyncSession, Depends(get_write_db)]


def credential_of(connection: HTTPConnection) -> str | None:
    """The bearer token or login cookie a request or websocket carries, if any."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.cookies.get(COOKIE_NAME)


async def user_from_connection(connection: HTTPConnection, context: Context) -> User:
    """The authenticated user of a request or websocket.

    Raises:
        Unauthenticated: no credential, or a bad one.
    """
    credential = credential_of(connection)
    if not credential:
        raise Unauthenticated("log in or send an Authorization: Bearer token")
    async with context.sessionmaker() as db:
        return await authenticate_token(db, credential)


async def get_current_user(request: Request, context: ContextDep) -> User:
    user = getattr(request.state, "user", None)
    if user is None:
        user = await user_from_connection(request, context)
        request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> User:
    require_role(user, Role.ADMIN)
    return user


AdminUser = Annotated[User, Depends(get_admin)]


def get_session_service(context: ContextDep) -> SessionService:
    return context.sessions


SessionServiceDep = Annotated[SessionService, Depends(get_session_service)]
