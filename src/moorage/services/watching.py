"""Who may watch a session: see its screen (a thumbnail) without being its owner.

:func:`may_watch` is the one place that decides it; every entry point that shows a
session's screen to someone (``GET /api/v1/sessions/{id}/thumbnail``, the
instructor view of workshops) asks it, and a caller it refuses gets 404, never 403,
so the session's existence does not leak (:func:`session_to_watch`).

Today the answer is by role, within the session's org: its owner, and users of the
``instructor`` role or above (roles are ordered: operators and admins too).
Workshops narrow the instructors' part to the participants of their own
workshops: that rule belongs in :func:`may_watch` (its ``db`` argument is there for
the look-up), and nowhere else.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.errors import NotFound
from moorage.models.session import WorkspaceSession
from moorage.models.user import Role, User
from moorage.security.rbac import has_role

__all__ = ["WATCHER_ROLE", "may_watch", "session_to_watch"]

WATCHER_ROLE = Role.INSTRUCTOR
"""The least role that watches other people's sessions of its org."""


async def may_watch(db: AsyncSession, user: User, session: WorkspaceSession) -> bool:
    """True when ``user`` may see ``session``'s screen: its owner, or a user of
    :data:`WATCHER_ROLE` or above in the session's org. Nobody watches another org's
    sessions.

    ``db`` is an open database session, for the workshop rule (an instructor watches
    only the participants of their workshops); the role rule needs no look-up.
    """
    if session.org_id != user.org_id:
        return False
    return session.user_id == user.id or has_role(user, WATCHER_ROLE)


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
