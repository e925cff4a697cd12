"""What a workshop's instructor (or an admin of its org) does to it while it runs:
reset one participant, extend everyone, broadcast a message or a command, and open
a participant's workspace read-only (observe) or with control.

Each is audited ``workshop.<verb>`` on the workshop, with the details in its text;
the sessions touched are audited by the services that touch them too
(``session.launch``, ``share.create`` …).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.lease import LeaseState
from moorage.models.session import EndReason, WorkspaceSession
from moorage.models.share import ShareRole
from moorage.models.template import TemplateKind
from moorage.models.user import User
from moorage.models.workshop import Workshop, WorkshopSeat, WorkshopState
from moorage.services.workshops.joining import WorkshopJoining
from moorage.services.workshops.rules import workshop_state

__all__ = ["MAX_BROADCAST", "MAX_EXTEND_MINUTES", "CommandRunner", "Observation", "WorkshopActions"]

MAX_BROADCAST = 500
"""Characters of a broadcast message."""
MAX_COMMAND = 2000
MAX_EXTEND_MINUTES = 24 * 60

CommandRunner = Callable[[Sequence[WorkspaceSession], str], Awaitable[list[Any]]]
"""Runs a command in each session and answers one result per session (the exec
broadcast service's ``run_in_sessions``, bound to the process's context)."""


@dataclass(frozen=True)
class Observation:
    """A link for the instructor into a participant's workspace: open ``path``
    (``/share/<token>``, shown once) while signed in as that instructor."""

    path: str
    role: str
    session_id: str
    link_id: str


class WorkshopActions(WorkshopJoining):
    """The instructor's actions of :class:`~moorage.services.workshops.WorkshopService`."""

    async def _seat_of(
        self, user: User, workshop_id: str, seat_id: str
    ) -> tuple[Workshop, WorkshopSeat]:
        async with self.sessionmaker() as db:
            workshop = await self._run_by(db, user, workshop_id)
            seat = await db.get(WorkshopSeat, seat_id)
            if seat is None or seat.workshop_id != workshop.id:
                raise NotFound(f"no participant {seat_id}", code="participant_not_found")
            return workshop, seat

    def _require_running(self, workshop: Workshop) -> None:
        if workshop_state(workshop, self.clock()) == WorkshopState.ENDED:
            raise Conflict("this workshop has ended", code="workshop_ended")

    async def reset(
        self, user: User, workshop_id: str, seat_id: str, *, source: str | None = None
    ) -> WorkspaceSession:
        """Give one participant a fresh workspace: their session is ended, a new one
        launched (with the time left in the workshop); audited ``workshop.reset``.

        Raises:
            NotFound: no such workshop (or ``user`` may not run it) or participant.
            Conflict: the workshop has not started (``workshop_not_started``).
            Gone: it has ended (``workshop_ended``).
            and whatever the launch raises (429, 503 …).
        """
        workshop, seat = await self._seat_of(user, workshop_id, seat_id)
        self.check_open(workshop)
        async with self.sessionmaker() as db:
            participant = await db.get(User, seat.user_id)
        if participant is None or not participant.is_active:
            raise Conflict("this participant's account is disabled", code="participant_disabled")
        async with self._seat_lock(workshop.id, participant.id):
            old = seat.session_id
            if old is not None:
                await self.sessions.release_by_id(
                    old, reason="reset by the instructor", end_reason=EndReason.ADMIN.value
                )
            session = await self._launch_for(workshop, participant, seat.id, source=source)
        await self._audit(
            user,
            "reset",
            workshop_id,
            detail=f"participant {seat.display_name!r}: session {old} → {session.id}",
            source=source,
        )
        return session

    async def extend(
        self, user: User, workshop_id: str, minutes: int, *, source: str | None = None
    ) -> int:
        """Give everyone ``minutes`` more: the workshop ends that much later and each
        live session's deadline moves back as much, each cut at its template's
        maximum. Returns how many sessions moved; audited ``workshop.extend``.

        Raises:
            InvalidInput: ``minutes`` below 1 or above a day (field ``minutes``).
            NotFound: no such workshop, or ``user`` may not run it.
            Conflict: it has ended (``workshop_ended``).
        """
        if not 1 <= minutes <= MAX_EXTEND_MINUTES:
            raise InvalidInput(f"minutes: between 1 and {MAX_EXTEND_MINUTES}", field="minutes")
        async with write_session(self.sessionmaker) as db:
            workshop = await self._run_by(db, user, workshop_id, for_update=True)
            self._require_running(workshop)
            workshop.ends_at = workshop.ends_at + timedelta(minutes=minutes)
            session_ids = [
                s
                for s in await db.scalars(
                    select(WorkshopSeat.session_id).where(WorkshopSeat.workshop_id == workshop_id)
                )
                if s is not None
            ]
        moved = 0
        for session_id in session_ids:
            if await self.sessions.extend_by_id(session_id, minutes) is not None:
                moved += 1
        await self._audit(
            user,
            "extend",
            workshop_id,
            detail=f"+{minutes} min; {moved} session(s) extended",
            source=source,
        )
        return moved

    async def broadcast_message(
        self, user: User, workshop_id: str, message: str, *, source: str | None = None
    ) -> Workshop:
        """Show ``message`` as a banner on every participant's session page (an empty
        message takes the banner down); audited ``workshop.broadcast``.

        Raises:
            InvalidInput: over :data:`MAX_BROADCAST` characters (field ``message``).
            NotFound: no such workshop, or ``user`` may not run it.
            Conflict: it has ended.
        """
        text = message.strip()
        if len(text) > MAX_BROADCAST:
            raise InvalidInput(f"message: at most {MAX_BROADCAST} characters", field="message")
        async with write_session(self.sessionmaker) as db:
            workshop = await self._run_by(db, user, workshop_id, for_update=True)
            self._require_running(workshop)
            workshop.broadcast_message = text or None
            workshop.broadcast_at = self.clock() if text else None
        await self._audit(user, "broadcast", workshop_id, detail=f"message {text!r}", source=source)
        async with self.sessionmaker() as db:
            saved = await db.get(Workshop, workshop_id)
            assert saved is not None
            return saved

    async def broadcast_command(
        self,
        user: User,
        workshop_id: str,
        command: str,
        runner: CommandRunner,
        *,
        source: str | None = None,
    ) -> list[Any]:
        """Run ``command`` in every participant's ready terminal session through
        ``runner``; one result per session. Audited ``workshop.broadcast_command``.

        Raises:
            InvalidInput: an empty command, one over 2000 characters, or a workshop
                whose template is not a terminal (field ``command``).
            NotFound: no such workshop, or ``user`` may not run it.
            Conflict: it has ended.
        """
        command = command.strip()
        if not command or len(command) > MAX_COMMAND:
            raise InvalidInput(f"command: 1 to {MAX_COMMAND} characters", field="command")
        async with self.sessionmaker() as db:
            workshop = await self._run_by(db, user, workshop_id)
            self._require_running(workshop)
            if workshop.template.kind != TemplateKind.TERMINAL.value:
                raise InvalidInput(
                    "command: only a terminal workshop's sessions run a broadcast command",
                    field="command",
                )
            sessions = list(
                await db.scalars(
                    select(WorkspaceSession)
                    .join(WorkshopSeat, WorkshopSeat.session_id == WorkspaceSession.id)
                    .where(
                        WorkshopSeat.workshop_id == workshop_id,
                        WorkspaceSession.state == LeaseState.READY.value,
                    )
                )
            )
        results = await runner(sessions, command)
        await self._audit(
            user,
            "broadcast_command",
            workshop_id,
            detail=f"{command!r} in {len(sessions)} session(s)",
            source=source,
        )
        return results

    async def observe(
        self,
        user: User,
        workshop_id: str,
        seat_id: str,
        *,
        control: bool = False,
        source: str | None = None,
    ) -> Observation:
        """A share link for ``user`` alone into a participant's session: ``observer``
        (read-only: the gateway drops their input), or ``peer`` with ``control``;
        it lasts as long as the session. Audited ``workshop.observe`` (and
        ``share.create`` by the share service).

        Raises:
            NotFound: no such workshop (or ``user`` may not run it) or participant.
            Conflict: the participant has no ready session (``session_not_ready``).
        """
        workshop, seat = await self._seat_of(user, workshop_id, seat_id)
        if seat.session_id is None:
            raise Conflict("this participant has no workspace yet", code="session_not_ready")
        async with self.sessionmaker() as db:
            session = await db.get(WorkspaceSession, seat.session_id)
        assert session is not None
        minutes = max(1, int((session.expires_at - self.clock()).total_seconds() // 60) + 1)
        role = ShareRole.PEER.value if control else ShareRole.OBSERVER.value
        made = await self.shares.create(
            user, session.id, role=role, minutes=minutes, usernames=[user.username], source=source
        )
        await self._audit(
            user,
            "observe",
            workshop.id,
            detail=f"{role} on participant {seat.display_name!r} (session {session.id})",
            source=source,
        )
        return Observation(f"/share/{made.token}", role, session.id, made.link.id)
