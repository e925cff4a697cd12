"""How a session ended, for the people looking at it: when, and why.

A session's row says when it ended (``released_at``), why (``end_reason``: an
:class:`~moorage.models.session.EndReason`, the API's ``end_reason``; rows ended
before it existed have none, :func:`end_reason_of` infers it) and, when it failed,
the error (``error``); who ended it early is in the audit log (``session.end`` on
the session, or ``session.release_all`` by an admin). :func:`session_ending` puts
them together for the session page ("ended at 14:02 (its time was up)").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.i18n import N_
from moorage.i18n import gettext as _
from moorage.models.audit import AuditEvent
from moorage.models.lease import LeaseState
from moorage.models.session import EndReason, WorkspaceSession
from moorage.models.user import User

__all__ = ["EndCause", "SessionEnding", "end_reason_of", "session_ending"]

RELEASE_ALL_WINDOW = timedelta(minutes=2)
"""How close to a session's end an admin's "release all" must be to be its cause."""
ON_TIME_SLACK = timedelta(seconds=1)
"""A release this close before the deadline still counts as the time being up."""


class EndCause(enum.StrEnum):
    """Why a session ended."""

    ENDING = "ending"
    """Still ``releasing`` (its container is being removed, or Docker is unreachable)."""
    TIME = "time"
    YOU = "you"
    OWNER = "owner"
    ADMIN = "admin"
    FAILED = "failed"
    IDLE = "idle"
    """Ended by its idle timeout."""
    WORKSHOP_END = "workshop_end"
    ENDED = "ended"
    """Ended early, by whom is not recorded."""


@dataclass(frozen=True)
class SessionEnding:
    """The end of a session: when (``at``, UTC; None while ``ENDING``), why
    (``cause``), who (``by``, a username, for ``YOU``/``OWNER``/``ADMIN``) and the
    failure (``error``, for ``FAILED``)."""

    at: datetime | None
    cause: EndCause
    by: str | None = None
    error: str | None = None

    @property
    def reason(self) -> str:
        """The cause in words, in the request's language: "its time was up", "ended
        by an admin (alice)" …"""
        if self.cause is EndCause.FAILED and self.error:
            return _("it failed: %(error)s", error=self.error)
        return _(
            {
                EndCause.ENDING: N_("it is being ended"),
                EndCause.TIME: N_("its time was up"),
                EndCause.YOU: N_("ended by you"),
                EndCause.OWNER: N_("ended by its owner (%(by)s)"),
                EndCause.ADMIN: N_("ended by an admin (%(by)s)"),
                EndCause.FAILED: N_("it failed"),
                EndCause.IDLE: N_("it was idle for too long"),
                EndCause.WORKSHOP_END: N_("its workshop ended"),
                EndCause.ENDED: N_("ended early"),
            }[self.cause],
            by=self.by,
        )


def end_reason_of(session: WorkspaceSession) -> str | None:
    """The session's ``end_reason`` once it is ending or has ended (None while it
    lives): the recorded one, else, for rows ended before reasons were recorded,
    ``failed`` or ``deadline`` when it ended at its deadline (None when unknown)."""
    state = LeaseState(session.state)
    if state not in (LeaseState.RELEASING, LeaseState.RELEASED, LeaseState.FAILED):
        return None
    if session.end_reason:
        return session.end_reason
    if state == LeaseState.FAILED:
        return EndReason.FAILED.value
    at = session.released_at
    if at is not None and at >= session.expires_at - ON_TIME_SLACK:
        return EndReason.DEADLINE.value
    return None


async def session_ending(
    sessionmaker: async_sessionmaker[AsyncSession], session: WorkspaceSession, viewer: User
) -> SessionEnding | None:
    """How ``session`` ended, as ``viewer`` should read it; None while it lives
    (pending, provisioning, ready, stopped). ``viewer`` must be allowed to see the session
    (the caller has checked, e.g. with ``SessionService.get``)."""
    state = LeaseState(session.state)
    if state == LeaseState.RELEASING:
        return SessionEnding(None, EndCause.ENDING)
    if not state.is_terminal:
        return None
    if state == LeaseState.FAILED:
        return SessionEnding(session.released_at, EndCause.FAILED, error=session.error)
    if session.end_reason in (EndReason.IDLE.value, EndReason.WORKSHOP_END.value):
        return SessionEnding(session.released_at, EndCause(session.end_reason))
    early = (
        session.released_at is not None and session.released_at < session.expires_at - ON_TIME_SLACK
    )
    async with sessionmaker() as db:
        by = await _ended_by(db, session, early=early)
    if by is not None:
        if by == viewer.username:
            return SessionEnding(session.released_at, EndCause.YOU, by)
        if by == session.user.username:
            return SessionEnding(session.released_at, EndCause.OWNER, by)
        return SessionEnding(session.released_at, EndCause.ADMIN, by)
    return SessionEnding(session.released_at, EndCause.ENDED if early else EndCause.TIME)


async def _ended_by(db: AsyncSession, session: WorkspaceSession, *, early: bool) -> str | None:
    """Who ended ``session``, from the audit log: its own ``session.end``, or, when
    it ended ``early``, an admin's ``session.release_all`` around that time."""
    username = await db.scalar(
        select(AuditEvent.username)
        .where(
            AuditEvent.org_id == session.org_id,
            AuditEvent.action == "session.end",
            AuditEvent.object_id == session.id,
        )
        .order_by(AuditEvent.at)
        .limit(1)
    )
    if username is not None or not early or session.released_at is None:
        return username
    return await db.scalar(
        select(AuditEvent.username)
        .where(
            AuditEvent.org_id == session.org_id,
            AuditEvent.action == "session.release_all",
            AuditEvent.at >= session.released_at - RELEASE_ALL_WINDOW,
            AuditEvent.at <= session.released_at + RELEASE_ALL_WINDOW,
        )
        .limit(1)
    )
