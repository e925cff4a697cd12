"""Share links and the grants opened with them (see :mod:`moorage.services.shares`).

A **share link** lets people other than a session's owner into that one session,
as ``observer`` (sees, cannot type, click, paste or resize) or ``peer`` (full
control), until its ``expires_at`` (never past the session's deadline) or until it
is revoked. Only the SHA-256 of its token is stored; ``token_prefix`` finds the row.
``user_ids`` names the users it is for; None means anyone holding it, who then
gives a display name.

A **share grant** is one opening of a link: the browser that opened it holds a
sealed cookie naming the grant. Ending the grant (the owner disconnects that
person) keeps that browser out; revoking the link keeps everyone out.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moorage.db.base import Base, UTCDateTime, id_column, utcnow


class ShareRole(enum.StrEnum):
    """What a share link lets its holders do in the session."""

    OBSERVER = "observer"
    """Sees the terminal, desktop or app; no keystroke, pointer event, clipboard,
    resize or unsafe HTTP method reaches the workspace."""
    PEER = "peer"
    """Full control, like the owner (but cannot share, extend or end the session)."""


class ShareLink(Base):
    __tablename__ = "share_links"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(64))
    """Username of who created it (the owner, an instructor or an admin)."""
    role: Mapped[str] = mapped_column(String(16))
    token_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    user_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """Ids of the users it is for; None: anyone holding the link."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ShareGrant(Base):
    __tablename__ = "share_grants"

    id: Mapped[str] = id_column()
    link_id: Mapped[str] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    """The signed-in user who opened the link (always set for a named link)."""
    display_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Set when the owner disconnected this person: the grant opens nothing more."""

    link: Mapped[ShareLink] = relationship(lazy="joined")
