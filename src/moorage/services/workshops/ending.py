"""How a workshop ends: now by its instructor, or at ``ends_at`` by the reconciler.

Ending (:meth:`WorkshopEnding.finish`) is idempotent and crash-safe: the row's
``ended_at`` is set first (joining is refused from then on), then every live session
of its seats is released (``end_reason`` ``workshop_end``), then its temporary users
are removed, and only then does its ``state`` become ``ended``. A crash in between
leaves a row whose ``state`` is not ``ended`` although its end has passed; the
reconciler's next pass (:meth:`WorkshopEnding.finish_due`) does the rest. A session
whose release Docker refused stays ``releasing`` and is the session keeper's to
retry, as for any lease.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, or_, select

from moorage.db.engine import write_session
from moorage.models.lease import LIVE_STATES
from moorage.models.session import EndReason, WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User
from moorage.models.workshop import Workshop, WorkshopSeat, WorkshopState
from moorage.services.workshops.base import WorkshopBase, lock_workshop
from moorage.services.workshops.guests import remove_guests
from moorage.services.workshops.rules import warm_demand_of

__all__ = ["WorkshopEnding"]

log = logging.getLogger(__name__)


class WorkshopEnding(WorkshopBase):
    """Ending workshops and what they ask of the warm pools."""

    async def end(self, user: User, workshop_id: str, *, source: str | None = None) -> Workshop:
        """End the workshop now (its instructor or an admin); idempotent. Audited
        ``workshop.end`` with how many sessions were released.

        Raises:
            NotFound: no such workshop, or ``user`` may not run it.
        """
        async with write_session(self.sessionmaker) as db:
            workshop = await self._run_by(db, user, workshop_id, for_update=True)
            if workshop.ended_at is None:
                workshop.ended_at = self.clock()
        released = await self.finish(workshop_id)
        await self._audit(
            user, "end", workshop_id, detail=f"{released} session(s) released", source=source
        )
        async with self.sessionmaker() as db:
            ended = await db.get(Workshop, workshop_id)
            assert ended is not None
            return ended

    async def finish(self, workshop_id: str) -> int:
        """Carry out a workshop's end (see the module docstring); returns how many
        sessions were released now. Idempotent."""
        async with write_session(self.sessionmaker) as db:
            if not await lock_workshop(db, workshop_id):
                return 0
            workshop = await db.get(Workshop, workshop_id)
            assert workshop is not None
            if workshop.ended_at is None:
                workshop.ended_at = min(self.clock(), workshop.ends_at)
            session_ids = list(
                await db.scalars(
                    select(WorkspaceSession.id)
                    .join(WorkshopSeat, WorkshopSeat.user_id == WorkspaceSession.user_id)
                    .where(
                        WorkshopSeat.workshop_id == workshop_id,
                        WorkspaceSession.state.in_(LIVE_STATES),
                        # a seat's session; and whatever a temporary user holds
                        or_(
                            WorkspaceSession.id == WorkshopSeat.session_id,
                            WorkshopSeat.anonymous.is_(True),
                        ),
                    )
                )
            )
        results = await asyncio.gather(
            *(
                self.sessions.release_by_id(
                    i, reason="its workshop ended", end_reason=EndReason.WORKSHOP_END.value
                )
                for i in session_ids
            ),
            return_exceptions=True,
        )
        for session_id, result in zip(session_ids, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("workshop %s: session %s: %r", workshop_id, session_id, result)
        async with write_session(self.sessionmaker) as db:
            await remove_guests(db, workshop_id, now=self.clock())
            await lock_workshop(db, workshop_id)
            workshop = await db.get(Workshop, workshop_id)
            if workshop is not None:
                workshop.state = WorkshopState.ENDED.value
        for key in [k for k in self._seat_locks if k[0] == workshop_id]:
            del self._seat_locks[key]  # no launch for this workshop from now on
        return len(session_ids)

    async def finish_due(self) -> int:
        """The reconciler's pass: finish every workshop whose end has come and whose
        end was not carried out yet; returns how many. One failing is logged and
        retried on the next pass; the others go on."""
        now = self.clock()
        async with self.sessionmaker() as db:
            due = list(
                await db.scalars(
                    select(Workshop.id).where(
                        Workshop.state != WorkshopState.ENDED.value,
                        or_(Workshop.ends_at <= now, Workshop.ended_at.is_not(None)),
                    )
                )
            )
        done = 0
        for workshop_id in due:
            try:
                await self.finish(workshop_id)
                done += 1
            except Exception:
                log.exception("workshop %s: its end failed; retrying on the next pass", workshop_id)
        return done

    async def run(self) -> None:
        """The reconciler's ``workshops`` job: :meth:`finish_due`."""
        await self.finish_due()

    async def warm_demand(self) -> dict[str, int]:
        """Warm workspaces the workshops ask of each template now, by template id:
        the sum of :func:`~moorage.services.workshops.rules.warm_demand_of` (never
        more than the seats still free) over the workshops not ended (the warm pool
        keeper keeps the larger of this and the template's own ``warm``)."""
        now = self.clock()
        async with self.sessionmaker() as db:
            workshops = list(
                await db.scalars(
                    select(Workshop)
                    .join(Template, Template.id == Workshop.template_id)
                    .where(Workshop.state != WorkshopState.ENDED.value, Workshop.ends_at > now)
                )
            )
            rows = await db.execute(
                select(WorkshopSeat.workshop_id, func.count())
                .where(WorkshopSeat.workshop_id.in_([w.id for w in workshops]))
                .group_by(WorkshopSeat.workshop_id)
            )
            seats = {workshop_id: int(count) for workshop_id, count in rows.tuples()}
        demand: dict[str, int] = {}
        for workshop in workshops:
            wanted = warm_demand_of(workshop, now, seats_taken=seats.get(workshop.id, 0))
            if wanted:
                demand[workshop.template_id] = demand.get(workshop.template_id, 0) + wanted
        return demand
