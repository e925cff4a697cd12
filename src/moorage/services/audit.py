"""The audit log: every mutating action, who did it, to what, when, from where."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from moorage.db.engine import write_session
from moorage.models.audit import AuditEvent
from moorage.models.user import User
from moorage.observability.request_id import current_request_id

__all__ = ["COMMAND_LINE", "audit", "audit_in", "client_address", "record"]

COMMAND_LINE = "(command line)"
"""The actor recorded for changes made with ``moorage`` commands on the server's host,
which act as no signed-in user."""


def client_address(connection: HTTPConnection | None) -> str | None:
    """The client's address as the ASGI server saw it; None without a connection
    (the CLI in-process, jobs) or when the server does not know it."""
    return connection.client.host if connection is not None and connection.client else None


async def audit(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: HTTPConnection | None,
    user: User,
    action: str,
    object_type: str,
    object_id: str,
    *,
    environment: str | None = None,
    detail: str | None = None,
    source: str | None = None,
) -> None:
    """Record one event in its own transaction (after the action succeeded).

    ``action`` is ``<object>.<verb>`` (``container.stop``, ``session.launch``);
    the source is ``source`` when given (services get the address from their
    caller), else the address of ``connection`` (see :func:`client_address`).
    """
    async with write_session(sessionmaker) as db:
        audit_in(
            db,
            user,
            action,
            object_type,
            object_id,
            environment=environment,
            detail=detail,
            source=source or client_address(connection),
        )


def audit_in(
    db: AsyncSession,
    user: User,
    action: str,
    object_type: str,
    object_id: str,
    *,
    environment: str | None = None,
    detail: str | None = None,
    source: str | None = None,
) -> None:
    """Add an event by ``user`` to ``db``'s transaction: it is kept only if the action
    commits. ``source`` is the client's address, when the caller knows it."""
    record(
        db,
        user.org_id,
        user.username,
        action,
        object_type,
        object_id,
        environment=environment,
        detail=detail,
        source=source,
    )


def record(
    db: AsyncSession,
    org_id: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    *,
    environment: str | None = None,
    detail: str | None = None,
    source: str | None = None,
) -> None:
    """Add an event to ``db``'s transaction for an actor that is not a signed-in user
    (:func:`audit_in` is this with the user's org and name): :data:`COMMAND_LINE`, or
    the username tried by a failed sign-in. Values are cut to their columns' sizes
    (``actor`` 64 characters, ``object_id`` 255, ``detail`` 2000). The event carries the
    id of the HTTP request being served, if any (:mod:`moorage.observability.request_id`)."""
    db.add(
        AuditEvent(
            org_id=org_id,
            username=actor[:64],
            action=action,
            object_type=object_type,
            object_id=object_id[:255],
            environment=environment,
            source=source and source[:64],
            detail=(detail or None) and detail[:2000],
            request_id=current_request_id(),
        )
    )
