"""Who may watch a session: see its screen (a thumbnail) without being its owner.

:func:`may_watch` is the one place that decides it; every entry point that shows a
session's screen to someone (``GET /api/v1/sessions/{id}/thumbnail``, the
instructor view of workshops) asks it, and a caller it refuses gets 404, never 403,
so the session's existence does not leak (:func:`session_to_watch`).

Within the session's org: its owner; operators and admins (any session of the
org); and an instructor for the sessions of the participants of their own
workshops (a seat of a workshop they run names the session), nobody else's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.errors import NotFound
from moorage.models.session import WorkspaceSession
from moorage.models.user import Role, User
from moorage.models.workshop import Workshop, WorkshopSeat
from moorage.security.rbac import has_role

__all__ = ["WATCHER_ROLE", "may_watch", "session_to_watch"]

WATCHER_ROLE = Role.OPERATOR
"""The least role that watches any session of its org (instructors watch their
workshops' participants only)."""


async def may_watch(db: AsyncSession, user: User, session: WorkspaceSession) -> bool:
    """True when ``user`` may see ``session``'s screen: its owner, a user of
    :data:`WATCHER_ROLE` or above in the session's org, or an instructor whose
    workshop has the session in a seat. Nobody watches another org's sessions.

    ``db`` is an open database session, read for the workshop rule only.
    """
    if session.org_id != user.org_id:
        return False
    if session.user_id == user.id or has_role(user, WATCHER_ROLE):
        return True
    if not has_role(user, Role.INSTRUCTOR):
        return False
    return await runs_the_workshop_of(db, user, session.id)


async def runs_the_workshop_of(db: AsyncSession, user: User, session_id: str) -> bool:
    """True when a workshop that ``user`` runs has the session ``session_id`` in a seat."""
    seat = await db.scalar(
        select(WorkshopSeat.id)
        .join(Workshop, Workshop.id == WorkshopSeat.workshop_id)
        .where(WorkshopSeat.session_id == session_id, Workshop.owner_id == user.id)
        .limit(1)
    )
    return seat is not None


async def session_to_watch(
    sessionmaker: async_sessionmaker[AsyncSession], user: User, session_id: str
) -> WorkspaceSession:
    """The session ``session_id`` (template, environment and owner loaded) when
    ``user`` may watch it.

    Raises:
        NotFound: no such session, or ``user`` may not watch it (the same answer,
            code ``session_not_found``).
    """
    async with sessionmaker() as db:
        session = await db.scalar(select(WorkspaceSession).where(WorkspaceSession.id == session_id))
        if session is None or not await may_watch(db, user, session):
            raise NotFound(f"no session {session_id}", code="session_not_found")
        return session
