"""Joining a workshop with its code: a seat, and the seat's session.

:meth:`WorkshopJoining.join`, step by step:

1. the client address must not have used up its wrong codes (429,
   :class:`~moorage.services.workshops.codes.JoinCodeThrottle`); an unknown code
   counts as wrong (404);
2. before ``starts_at``: 409 ``workshop_not_started`` (with ``starts_at``); after the
   end: 410 ``workshop_ended``;
3. the participant: the signed-in user; in an anonymous workshop, without one, a
   temporary user made now with the display name given
   (:mod:`~moorage.services.workshops.guests`), whose login token the caller sets
   as the login cookie; a workshop that is not anonymous needs a sign-in (401
   ``workshop_sign_in``);
4. their seat, made in a transaction that holds the workshop's row, so the
   ``capacity``-th seat is the last (409 ``workshop_full``); someone coming back
   finds their seat again;
5. the seat's session: the live one it holds (coming back gets the same workspace),
   else one launched now through :meth:`SessionService.launch
   <moorage.services.sessions.SessionService.launch>`, claiming a warm workspace
   when the pool has one, lasting ``duration_minutes`` cut at ``ends_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from moorage.db.engine import write_session
from moorage.errors import Conflict, Forbidden, Gone, NotFound, Unauthenticated
from moorage.models.lease import LIVE_STATES
from moorage.models.session import EndReason, WorkspaceSession
from moorage.models.user import User
from moorage.models.workshop import Workshop, WorkshopSeat, WorkshopState
from moorage.services.audit import audit_in
from moorage.services.leases.rules import MIN_DURATION_SECONDS
from moorage.services.share_opening import clean_display_name
from moorage.services.workshops.base import WorkshopBase, lock_workshop
from moorage.services.workshops.codes import normalize_code
from moorage.services.workshops.guests import make_guest
from moorage.services.workshops.rules import seat_duration, workshop_state

__all__ = ["Joined", "WorkshopJoining"]


@dataclass(frozen=True)
class Joined:
    """A participant in their seat: the session to open, and for a participant made
    just now, the login token to set as their login cookie (valid ``login_seconds``)."""

    workshop: Workshop
    seat: WorkshopSeat
    session: WorkspaceSession
    login_token: str | None = None
    login_seconds: int = 0


class WorkshopJoining(WorkshopBase):
    """The participants' side of :class:`~moorage.services.workshops.WorkshopService`."""

    async def find_by_code(self, code: str, *, address: str) -> Workshop:
        """The workshop with join code ``code`` (any state), for its join page.

        Raises:
            TooManyAttempts: ``address`` sent too many wrong codes (429).
            NotFound: no workshop has this code (404, ``workshop_not_found``);
                counted as a wrong code.
        """
        await self.throttle.check(address)
        async with self.sessionmaker() as db:
            workshop = await db.scalar(
                select(Workshop).where(Workshop.join_code == normalize_code(code))
            )
        if workshop is None:
            await self.throttle.wrong(address)
            raise NotFound("no workshop has this code", code="workshop_not_found", field="code")
        return workshop

    def check_open(self, workshop: Workshop) -> None:
        """Raise unless participants may join now.

        Raises:
            Conflict: before its start (409 ``workshop_not_started``, with ``starts_at``).
            Gone: it has ended (410 ``workshop_ended``).
        """
        state = workshop_state(workshop, self.clock())
        if state == WorkshopState.SCHEDULED:
            raise Conflict(
                f"this workshop has not started; it starts at {workshop.starts_at.isoformat()}",
                code="workshop_not_started",
                starts_at=workshop.starts_at.isoformat(),
            )
        if state == WorkshopState.ENDED:
            raise Gone("this workshop has ended", code="workshop_ended")

    async def join(
        self,
        code: str,
        user: User | None,
        display_name: str | None = None,
        *,
        address: str,
        source: str | None = None,
    ) -> Joined:
        """Join the workshop of ``code`` and get the seat's session (see the module
        docstring); audited ``workshop.join`` for a new seat (the launch is audited
        ``session.launch`` by the session service).

        Raises:
            TooManyAttempts (429), NotFound (404): see :meth:`find_by_code`.
            Conflict: not started (409 ``workshop_not_started``) or full
                (409 ``workshop_full``).
            Gone: ended (410 ``workshop_ended``).
            Unauthenticated: not anonymous and nobody signed in (401 ``workshop_sign_in``).
            Forbidden: a signed-in user of another org in a workshop that is not
                anonymous (403 ``workshop_other_org``).
            InvalidInput: anonymous, no participant yet and no usable ``display_name``
                (422, field ``display_name``).
            and whatever :meth:`SessionService.launch` raises (403, 429, 503 …).
        """
        workshop = await self.find_by_code(code, address=address)
        self.check_open(workshop)
        if user is not None and user.org_id != workshop.org_id:
            if not workshop.anonymous:
                raise Forbidden(
                    "this workshop belongs to another organisation", code="workshop_other_org"
                )
            user = None  # an anonymous workshop: they join as a guest of its org
        if user is None and not workshop.anonymous:
            raise Unauthenticated("sign in to join this workshop", code="workshop_sign_in")
        name = clean_display_name(display_name) if user is None else None
        participant, seat, token = await self._seat(workshop, user, name, source=source)
        session = await self._session_of(workshop, participant, seat, source=source)
        async with self.sessionmaker() as db:
            seat = await db.get(WorkshopSeat, seat.id) or seat
        login_seconds = max(60, int((workshop.ends_at - self.clock()).total_seconds()))
        return Joined(workshop, seat, session, token, login_seconds if token else 0)

    async def _seat(
        self, workshop: Workshop, user: User | None, name: str | None, *, source: str | None
    ) -> tuple[User, WorkshopSeat, str | None]:
        """The participant's seat, made if new (with a temporary user when ``user`` is
        None), under the workshop's row lock so capacity holds."""
        async with write_session(self.sessionmaker) as db:
            await lock_workshop(db, workshop.id)
            if user is not None:
                seat = await db.scalar(
                    select(WorkshopSeat).where(
                        WorkshopSeat.workshop_id == workshop.id, WorkshopSeat.user_id == user.id
                    )
                )
                if seat is not None:
                    return user, seat, None
            taken = await db.scalar(
                select(func.count())
                .select_from(WorkshopSeat)
                .where(WorkshopSeat.workshop_id == workshop.id)
            )
            if (taken or 0) >= workshop.capacity:
                raise Conflict(
                    f"this workshop is full ({workshop.capacity} participants)",
                    code="workshop_full",
                )
            token = None
            if user is None:
                assert name is not None
                user, token = await make_guest(
                    db,
                    workshop,
                    name,
                    now=self.clock(),
                    max_ttl=timedelta(hours=self.login_ttl_hours),
                )
            seat = WorkshopSeat(
                workshop_id=workshop.id,
                user_id=user.id,
                display_name=(name or user.display_name or user.username)[:64],
                anonymous=token is not None,
                joined_at=self.clock(),
            )
            db.add(seat)
            await db.flush()
            audit_in(
                db,
                user,
                "workshop.join",
                "workshop",
                workshop.id,
                detail=f"seat {seat.id} as {seat.display_name!r}",
                source=source,
            )
        return user, seat, token

    async def _session_of(
        self, workshop: Workshop, participant: User, seat: WorkshopSeat, *, source: str | None
    ) -> WorkspaceSession:
        """The seat's live session, or a new one (one launch at a time per seat)."""
        async with self._seat_lock(workshop.id, participant.id):
            async with self.sessionmaker() as db:
                current = await db.get(WorkshopSeat, seat.id)
                session_id = current.session_id if current is not None else None
                session = await db.get(WorkspaceSession, session_id) if session_id else None
            if session is not None and session.state in LIVE_STATES:
                return session
            return await self._launch_for(workshop, participant, seat.id, source=source)

    async def _launch_for(
        self, workshop: Workshop, participant: User, seat_id: str, *, source: str | None
    ) -> WorkspaceSession:
        """Launch the seat's session now and point the seat at it."""
        duration = seat_duration(workshop, self.clock())
        if duration.total_seconds() < MIN_DURATION_SECONDS:
            raise Gone("this workshop has ended", code="workshop_ended")
        session = await self.sessions.launch(
            participant,
            workshop.template_id,
            duration_seconds=int(duration.total_seconds()),
            source=source,
            workshop_seat=True,
        )
        async with write_session(self.sessionmaker) as db:
            seat = await db.get(WorkshopSeat, seat_id)
            if seat is not None:
                seat.session_id = session.id
            ended = await db.scalar(select(Workshop.ended_at).where(Workshop.id == workshop.id))
        if ended is not None:  # ended while this launch ran: its end did not see it
            await self.sessions.release_by_id(
                session.id, reason="its workshop ended", end_reason=EndReason.WORKSHOP_END.value
            )
            raise Gone("this workshop has ended", code="workshop_ended")
        return session

    async def seat_of_session(self, user: User, session_id: str) -> Workshop | None:
        """The workshop whose seat of ``user`` holds ``session_id`` (for the banner on the
        participant's session page); None when it is not a workshop's."""
        async with self.sessionmaker() as db:
            return await db.scalar(
                select(Workshop)
                .join(WorkshopSeat, WorkshopSeat.workshop_id == Workshop.id)
                .where(WorkshopSeat.session_id == session_id, WorkshopSeat.user_id == user.id)
            )
