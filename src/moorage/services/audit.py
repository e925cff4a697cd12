"""The audit log: every mutating action, who did it, to what, when, from where."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from moorage.db.engine import write_session
from moorage.models.audit import AuditEvent
from moorage.models.user import User

__all__ = ["audit", "audit_in"]


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
) -> None:
    """Record one event in its own transaction (after the action succeeded).

    ``action`` is ``<object>.<verb>`` (``container.stop``, ``session.launch``);
    the source is the client's address as the ASGI server saw it.
    """
    source = connection.client.host if connection is not None and connection.client else None
    async with write_session(sessionmaker) as db:
        db.add(
            AuditEvent(
                org_id=user.org_id,
                username=user.username,
                action=action,
                object_type=object_type,
                object_id=object_id[:255],
                environment=environment,
                source=source,
                detail=(detail or None) and detail[:2000],
            )
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
) -> None:
    """Add an event to ``db``'s transaction: it is kept only if the action commits."""
    db.add(
        AuditEvent(
            org_id=user.org_id,
            username=user.username,
            action=action,
            object_type=object_type,
            object_id=object_id[:255],
            environment=environment,
            detail=(detail or None) and detail[:2000],
        )
    )
