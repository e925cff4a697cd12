"""Machine: an SSH-reachable host in a pool, with encrypted credentials."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moorage.db.base import Base, UTCDateTime, id_column, utcnow
from moorage.models.pool import Pool


class MachineStatus(enum.StrEnum):
    """``unknown`` until the first probe; ``dirty`` while a reclaim left something
    behind (never handed out until a later clean-up succeeds); ``maintenance`` is
    set by an operator and skipped by probes and reservations."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    DIRTY = "dirty"
    MAINTENANCE = "maintenance"


class Machine(Base):
    __tablename__ = "machines"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=22)
    user: Mapped[str] = mapped_column(String(64))
    # Sealed with security.crypto (context "machine.password" / "machine.private_key").
    password_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    private_key_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=MachineStatus.UNKNOWN.value)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_probe_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    host_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The reservation holding the machine, if any (one at a time).
    reservation_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    pool: Mapped[Pool] = relationship(lazy="joined")
