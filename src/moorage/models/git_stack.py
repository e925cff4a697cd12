"""Git stack: a Compose stack whose files come from a Git repository (issue 19).

The stack's own files stay under ``<data-dir>/stacks/<environment>/<name>/`` like
every stack's; this row says where they come from (URL, ref, path), which commit is
deployed, what the last check found, and what waits for an operator. Credentials and
the webhook secret are sealed with the keyring (:mod:`moorage.security.crypto`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

__all__ = ["GitStack"]


class GitStack(Base):
    __tablename__ = "git_stacks"
    __table_args__ = (UniqueConstraint("environment_id", "name"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    environment_id: Mapped[str] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    url: Mapped[str] = mapped_column(String(1024))
    ref: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))
    # JSON {"username", "password"} or {"ssh_private_key"}, sealed; None: anonymous.
    credential_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    # OpenSSH known_hosts lines pinned on the first SSH fetch (accept-new).
    known_hosts: Mapped[str | None] = mapped_column(Text, nullable=True)
    policy: Mapped[str] = mapped_column(String(16), default="auto")  # auto | confirm
    poll_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_timeout_seconds: Mapped[int] = mapped_column(Integer, default=120)
    stable_seconds: Mapped[int] = mapped_column(Integer, default=5)
    webhook_secret_sealed: Mapped[str] = mapped_column(Text)
    env_text: Mapped[str] = mapped_column(Text, default="")

    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    previous_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # JSON {service: {"config_hash", "image"}} of the containers the last deploy left.
    deployed_services: Mapped[str | None] = mapped_column(Text, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    check_result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    rolled_back_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending_diff: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    drift: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of strings
    # Claimed by the process deploying it (a webhook's or the poller's) until then.
    busy_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
