"""Workshop and its seats (see :mod:`moorage.services.workshops`).

A **workshop** is a time window (``starts_at`` → ``ends_at``) in which up to
``capacity`` participants, joining with its ``join_code``, each get a session of
its template lasting at most ``duration_minutes`` (never past ``ends_at``). It is
run by an instructor (``owner_id``). Its state:

* ``scheduled`` — before ``starts_at``: joining shows a countdown;
* ``open`` — from ``starts_at``: joining launches (or finds again) a seat's session;
* ``ended`` — at ``ends_at`` or when its instructor ends it (``ended_at`` set): every
  seat's session is released and its temporary users are removed.

Only ``ended`` is stored as a change: ``scheduled`` and ``open`` follow from the
clock (:func:`workshop_state`). The stored ``state`` column says ``ended`` once the
end was carried out, so the reconciler knows what is left to do.

A **seat** is one participant in one workshop: a user (for an anonymous workshop,
a temporary user made for it, removed at its end), the name shown to the
instructor, and the session they hold (None before their first launch, or after a
reset until the new one is ready).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moorage.db.base import Base, UTCDateTime, id_column, utcnow
from moorage.models.template import Template


class WorkshopState(enum.StrEnum):
    """``scheduled → open → ended``; see the module docstring."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    ENDED = "ended"


class Workshop(Base):
    __tablename__ = "workshops"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    """The instructor who runs it (or the admin who created it)."""
    title: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    """Each participant's session lasts this long at most (cut at ``ends_at``)."""
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    """True: participants give a display name and get a temporary user."""
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    prewarm_minutes: Mapped[int] = mapped_column(Integer, default=15)
    """How long before ``starts_at`` the template's warm pool is raised."""
    prewarm_share: Mapped[float] = mapped_column(Float, default=0.7)
    """The share of ``capacity`` kept warm from then until the end (0–1)."""
    state: Mapped[str] = mapped_column(
        String(16), default=WorkshopState.SCHEDULED.value, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    broadcast_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    broadcast_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    template: Mapped[Template] = relationship(lazy="joined")


class WorkshopSeat(Base):
    __tablename__ = "workshop_seats"
    __table_args__ = (UniqueConstraint("workshop_id", "user_id"),)

    id: Mapped[str] = id_column()
    workshop_id: Mapped[str] = mapped_column(
        ForeignKey("workshops.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    """The seat's current session (a plain column: sessions are never deleted, and a
    reset points it at the fresh one)."""
    display_name: Mapped[str] = mapped_column(String(64))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    """True when ``user_id`` is a temporary user made for this workshop."""
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
