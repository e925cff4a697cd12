"""Creating, listing and reading workshops; the participants' grid.

See :mod:`moorage.services.workshops` for the whole feature.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from moorage.db.engine import write_session
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.user import Role, User
from moorage.models.workshop import Workshop, WorkshopSeat
from moorage.services.groups import check_may_launch
from moorage.services.kinds import kind_for
from moorage.services.templates import find_template
from moorage.services.workshops.actions import WorkshopActions
from moorage.services.workshops.base import require_runner
from moorage.services.workshops.codes import new_join_code
from moorage.services.workshops.ending import WorkshopEnding
from moorage.services.workshops.rules import check_fields

__all__ = ["Participant", "WorkshopService"]


@dataclass(frozen=True)
class Participant:
    """One seat as the instructor's grid shows it: the seat, its session (None
    before the first launch) and the seconds left on it (0 once it ended)."""

    seat: WorkshopSeat
    session: WorkspaceSession | None
    seconds_left: int

    @property
    def state(self) -> str:
        """The session's state, or ``waiting`` before it has one."""
        return self.session.state if self.session is not None else "waiting"


class WorkshopService(WorkshopActions, WorkshopEnding):
    """Workshops for the API, the pages and the reconciler (see the package docstring)."""

    async def create(
        self,
        user: User,
        *,
        title: str,
        template: str,
        capacity: int,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        anonymous: bool = False,
        description: str | None = None,
        duration_minutes: int | None = None,
        prewarm_minutes: int = 15,
        prewarm_share: float = 0.7,
        source: str | None = None,
    ) -> Workshop:
        """Create a workshop run by ``user`` with a fresh join code; audited
        ``workshop.create``. Field defaults: :func:`~moorage.services.workshops.rules.check_fields`.

        Raises:
            Forbidden: ``user`` is neither an instructor nor an admin (403
                ``instructor_required``), or may not launch the template (403
                ``group_required``).
            InvalidInput: a bad field, naming it (422; ``template`` for a kind that
                cannot be launched).
            NotFound: no such template in the org (404 ``template_not_found``).
        """
        require_runner(user)
        async with self.sessionmaker() as db:
            found = await find_template(db, template, user)
            await check_may_launch(db, user, found)
        kind_for(found.kind)  # a kind that cannot be launched is refused here
        fields = check_fields(
            title=title,
            description=description,
            capacity=capacity,
            starts_at=starts_at,
            ends_at=ends_at,
            duration_minutes=duration_minutes,
            anonymous=anonymous,
            prewarm_minutes=prewarm_minutes,
            prewarm_share=prewarm_share,
            default_minutes=found.default_duration_minutes,
            max_minutes=found.max_duration_minutes,
            now=self.clock(),
        )
        async with write_session(self.sessionmaker) as db:
            code = new_join_code()
            while await db.scalar(select(Workshop.id).where(Workshop.join_code == code)):
                code = new_join_code()
            workshop = Workshop(
                org_id=user.org_id,
                owner_id=user.id,
                template_id=found.id,
                join_code=code,
                created_at=self.clock(),
                **vars(fields),
            )
            db.add(workshop)
            await db.flush()
            workshop_id = workshop.id
        await self._audit(
            user,
            "create",
            workshop_id,
            detail=f"{fields.title!r}: {fields.capacity} × {found.name}, "
            f"{fields.starts_at.isoformat()} → {fields.ends_at.isoformat()}",
            source=source,
        )
        return await self.get(user, workshop_id)

    async def list(self, user: User) -> builtins.list[Workshop]:
        """The workshops ``user`` runs (an admin: every one of the org), newest first.

        Raises:
            Forbidden: neither an instructor nor an admin.
        """
        require_runner(user)
        query = select(Workshop).where(Workshop.org_id == user.org_id)
        if user.role != Role.ADMIN.value:
            query = query.where(Workshop.owner_id == user.id)
        async with self.sessionmaker() as db:
            return builtins.list(await db.scalars(query.order_by(Workshop.starts_at.desc())))

    async def get(self, user: User, workshop_id: str) -> Workshop:
        """One workshop ``user`` may run.

        Raises:
            NotFound: no such workshop, another org's, or another instructor's.
        """
        async with self.sessionmaker() as db:
            return await self._run_by(db, user, workshop_id)

    async def participants(self, user: User, workshop_id: str) -> builtins.list[Participant]:
        """The workshop's seats in the order they joined, with their sessions.

        Raises:
            NotFound: as :meth:`get`.
        """
        now = self.clock()
        async with self.sessionmaker() as db:
            await self._run_by(db, user, workshop_id)
            rows = (
                await db.execute(
                    select(WorkshopSeat, WorkspaceSession)
                    .outerjoin(WorkspaceSession, WorkspaceSession.id == WorkshopSeat.session_id)
                    .where(WorkshopSeat.workshop_id == workshop_id)
                    .order_by(WorkshopSeat.joined_at)
                )
            ).all()
        result = []
        for seat, session in rows:
            left = 0
            if session is not None and session.state in LIVE_STATES:
                left = max(0, int((session.expires_at - now).total_seconds()))
            result.append(Participant(seat, session, left))
        return result
