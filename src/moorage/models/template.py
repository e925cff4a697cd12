"""Template: a launchable workspace (image, kind, limits, durations)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow


class TemplateKind(enum.StrEnum):
    """How a workspace is reached. Only ``terminal`` is launchable so far."""

    TERMINAL = "terminal"
    SSH = "ssh"
    VNC = "vnc"
    RDP = "rdp"
    HTTP = "http"


class Template(Base):
    __tablename__ = "templates"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default=TemplateKind.TERMINAL.value)
    shell_user: Mapped[str] = mapped_column(String(64), default="user")
    # The container port of the web app (http kind).
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cpu_limit: Mapped[float] = mapped_column(Float, default=1.0)
    memory_limit_mb: Mapped[int] = mapped_column(Integer, default=512)
    default_duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    max_duration_minutes: Mapped[int] = mapped_column(Integer, default=240)
    max_sessions_per_user: Mapped[int] = mapped_column(Integer, default=2)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Recording (moorage.services.recordings): sessions of this template are recorded;
    # ``record_input`` adds the keystrokes of terminals to their asciicast.
    recording: Mapped[bool] = mapped_column(Boolean, default=False)
    record_input: Mapped[bool] = mapped_column(Boolean, default=False)
    # Idle timeout (moorage.services.activity): None = never ended for idleness.
    idle_timeout_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Regular expressions of /s/<id>/ paths that are the app's own polling, not activity.
    idle_ignore_paths: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # CPU use of the container (% of one core) above which it counts as busy, not idle.
    idle_cpu_percent: Mapped[float] = mapped_column(Float, default=20.0)
    # Warm workspaces to keep started ahead: None (none), or the stored form of
    # ``moorage.schemas.warm.WarmSchedule`` (``{"count": 3}`` for a plain number).
    warm: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Where it may run (services.placement): labels an environment must carry, all of
    # them (``{"gpu": "true", "site": "lab-2"}``); None or {}: any environment.
    environment_labels: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
