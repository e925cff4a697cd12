"""What every part of :class:`~moorage.services.workshops.WorkshopService` shares: its
collaborators, who may run a workshop, and finding one for its instructor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.errors import Forbidden, NotFound
from moorage.models.user import Role, User
from moorage.models.workshop import Workshop
from moorage.security.rbac import has_role
from moorage.services.audit import audit
from moorage.services.sessions import SessionService
from moorage.services.shares import ShareService
from moorage.services.workshops.codes import JoinCodeThrottle

__all__ = ["RUNS_WORKSHOPS", "WorkshopBase", "lock_workshop", "may_run"]

RUNS_WORKSHOPS = Role.INSTRUCTOR
"""The least role that creates and runs workshops (operators and admins too)."""


async def lock_workshop(db: AsyncSession, workshop_id: str) -> bool:
    """Lock the workshop's row for the caller's write transaction (``SELECT … FOR
    UPDATE`` of its id alone: the row's eager join to its template may not be
    locked on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway).
    False when there is no such workshop."""
    found = await db.scalar(select(Workshop.id).where(Workshop.id == workshop_id).with_for_update())
    return found is not None


def may_run(user: User, workshop: Workshop) -> bool:
    """True when ``user`` may see and act on ``workshop``: its instructor, or an admin
    of its org."""
    if workshop.org_id != user.org_id:
        return False
    return workshop.owner_id == user.id or user.role == Role.ADMIN.value


def require_runner(user: User) -> None:
    """Raise Forbidden (403) unless ``user`` is an instructor or above."""
    if not has_role(user, RUNS_WORKSHOPS):
        raise Forbidden(
            f"running workshops needs the instructor role; you are {user.role}",
            code="instructor_required",
        )


class WorkshopBase:
    """Collaborators and look-ups shared by the workshop service's parts.

    Args:
        sessionmaker: opens database sessions.
        sessions: launches, extends and releases the seats' sessions.
        shares: creates the instructor's observer and peer links.
        login_ttl_hours: how long a participant's temporary login may last at most.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        sessions: SessionService,
        shares: ShareService,
        *,
        login_ttl_hours: float = 12.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.sessions = sessions
        self.shares = shares
        self.login_ttl_hours = login_ttl_hours
        self.clock = clock
        self.throttle = JoinCodeThrottle()
        self._seat_locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _seat_lock(self, workshop_id: str, user_id: str) -> asyncio.Lock:
        """One launch at a time per participant in this process (a double click or two
        tabs get the same session, not two)."""
        return self._seat_locks.setdefault((workshop_id, user_id), asyncio.Lock())

    async def _run_by(
        self, db: AsyncSession, user: User, workshop_id: str, *, for_update: bool = False
    ) -> Workshop:
        """The workshop if ``user`` may run it (:func:`may_run`).

        Raises:
            NotFound: no such workshop, another org's, or someone else's (404 for all,
                so a workshop's existence does not leak).
        """
        if for_update:
            await lock_workshop(db, workshop_id)
        workshop = await db.scalar(select(Workshop).where(Workshop.id == workshop_id))
        if workshop is None or not may_run(user, workshop):
            raise NotFound(f"no workshop {workshop_id}", code="workshop_not_found")
        return workshop

    async def _audit(
        self,
        user: User,
        verb: str,
        workshop_id: str,
        *,
        detail: str | None = None,
        source: str | None = None,
    ) -> None:
        await audit(
            self.sessionmaker,
            None,
            user,
            f"workshop.{verb}",
            "workshop",
            workshop_id,
            detail=detail,
            source=source,
        )
