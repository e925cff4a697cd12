"""Session: a lease on one workspace container started from a template.

The class is ``WorkspaceSession`` so it never reads like a database session;
the table, the API and the UI call it a session.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moorage.db.base import Base, UTCDateTime, id_column, utcnow
from moorage.models.environment import Environment
from moorage.models.lease import LeaseMixin
from moorage.models.template import Template
from moorage.models.user import User


class EndReason(enum.StrEnum):
    """Why a session ended (its ``end_reason``, in the API as is)."""

    DEADLINE = "deadline"
    IDLE = "idle"
    OWNER = "owner"
    ADMIN = "admin"
    WORKSHOP_END = "workshop_end"
    """Reserved for workshops (not built yet): their end ends their seats' sessions."""
    FAILED = "failed"


class WorkspaceSession(LeaseMixin, Base):
    __tablename__ = "sessions"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    container_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # Published ports of the container, container port → host port (ssh, http kinds).
    ports: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    # The account and its password inside the workspace (ssh kind), sealed with the keyring.
    account: Mapped[str | None] = mapped_column(String(32), nullable=True)
    secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last thing a person did in the workspace (moorage.services.activity); None
    # until the first, when the session's start counts.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Why it ended (moorage.services.session_end.EndReason), once it has.
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Recorded (decided at launch from the template and the org).
    recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    template: Mapped[Template] = relationship(lazy="joined")
    environment: Mapped[Environment] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")
