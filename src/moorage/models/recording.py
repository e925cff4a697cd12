"""Recording: what passed through the gateway during one connection to a session.

A terminal's recording is an asciicast v2 file
(https://docs.asciinema.org/manual/asciicast/v2/) with a plain-text sidecar for
search; a desktop's is the RFB server-to-client stream in frames
(:mod:`moorage.services.recording_files`). The files live under
``<data_dir>/recordings/``; the row says whose they are.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moorage.db.base import Base, UTCDateTime, id_column, utcnow
from moorage.models.session import WorkspaceSession


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    # The session's owner: who, besides the org's admins, may read it.
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    # ``terminal`` (asciicast v2) or ``desktop`` (framed RFB).
    kind: Mapped[str] = mapped_column(String(16))
    with_input: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    width: Mapped[int] = mapped_column(Integer, default=80)
    height: Mapped[int] = mapped_column(Integer, default=24)

    session: Mapped[WorkspaceSession] = relationship(lazy="joined")
