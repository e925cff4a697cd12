"""FastAPI dependencies of the API and their ``Annotated`` aliases.

Authentication and role guards live in :mod:`moorage.security.auth` (shared
with the pages and the gateway); they are re-exported here so a router imports
all it needs from one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from moorage.context import Context
from moorage.db.engine import WRITE_OPTIONS
from moorage.errors import RuntimeUnavailable
from moorage.security.auth import (
    COOKIE_NAME,
    AdminUser,
    CurrentUser,
    MemberUser,
    OperatorUser,
    credential_of,
    get_current_user,
    require,
    user_from_connection,
)
from moorage.services.sessions import SessionService
from moorage.services.workshops import WorkshopService

__all__ = [
    "COOKIE_NAME",
    "AdminUser",
    "ContextDep",
    "CurrentUser",
    "DbDep",
    "MemberUser",
    "OperatorUser",
    "SessionServiceDep",
    "WriteDbDep",
    "credential_of",
    "get_context",
    "get_current_user",
    "require",
    "user_from_connection",
    "workshop_service",
]


def get_context(connection: HTTPConnection) -> Context:
    """The process context the app's lifespan built (``app.state.context``)."""
    return connection.app.state.context


ContextDep = Annotated[Context, Depends(get_context)]


async def get_db(context: ContextDep) -> AsyncIterator[AsyncSession]:
    """A read session for the request, closed after the response."""
    async with context.sessionmaker() as db:
        yield db


DbDep = Annotated[AsyncSession, Depends(get_db)]


async def get_write_db(context: ContextDep) -> AsyncIterator[AsyncSession]:
    """A session whose transaction will write; the handler commits."""
    async with context.sessionmaker() as db:
        await db.connection(execution_options=WRITE_OPTIONS)
        yield db


WriteDbDep = Annotated[AsyncSession, Depends(get_write_db)]


def get_session_service(context: ContextDep) -> SessionService:
    """The process's :class:`SessionService`."""
    return context.sessions


SessionServiceDep = Annotated[SessionService, Depends(get_session_service)]


def workshop_service(context: Context) -> WorkshopService:
    """The process's workshop service (the runtime always builds one).

    Raises:
        RuntimeUnavailable: a context built without it (503).
    """
    if context.workshops is None:
        raise RuntimeUnavailable("workshops are not available", code="workshops_unavailable")
    return context.workshops
