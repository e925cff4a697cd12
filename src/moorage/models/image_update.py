"""Image update policy: an operator's opt-in to watch the registry for a container's or
a stack's images, and what the last check found and did.

One row per ``(environment, target_kind, target_name)``; ``target_kind`` is
``container`` (by name: a recreated container keeps it) or ``stack`` (a managed
Compose project). ``policy`` is ``notify`` (alert and badge) or ``update`` (pull,
recreate, wait for health, roll back on failure).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

__all__ = ["ImageUpdatePolicy"]


class ImageUpdatePolicy(Base):
    __tablename__ = "image_update_policies"
    __table_args__ = (UniqueConstraint("environment_id", "target_kind", "target_name"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    environment_id: Mapped[str] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    target_kind: Mapped[str] = mapped_column(String(16))  # container | stack
    target_name: Mapped[str] = mapped_column(String(128))
    policy: Mapped[str] = mapped_column(String(16), default="notify")  # notify | update
    semver_range: Mapped[str | None] = mapped_column(String(64), nullable=True)  # ~1.4, ^2
    schedule: Mapped[str] = mapped_column(String(128))  # cron, UTC
    window_schedule: Mapped[str | None] = mapped_column(String(128), nullable=True)  # cron
    window_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_timeout_seconds: Mapped[int] = mapped_column(Integer, default=120)
    stable_seconds: Mapped[int] = mapped_column(Integer, default=10)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What the checks found and did.
    status: Mapped[str] = mapped_column(String(32), default="pending")
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    current_digest: Mapped[str | None] = mapped_column(String(128), nullable=True)
    available_digest: Mapped[str | None] = mapped_column(String(128), nullable=True)
    available_tag: Mapped[str | None] = mapped_column(String(128), nullable=True)
    rejected_digest: Mapped[str | None] = mapped_column(String(128), nullable=True)
    notified_digest: Mapped[str | None] = mapped_column(String(128), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
