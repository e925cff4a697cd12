"""Pool: a named set of machines with its reservation limits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

DEFAULT_POOL = "default"


class Pool(Base):
    __tablename__ = "pools"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    default_duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    max_duration_minutes: Mapped[int] = mapped_column(Integer, default=480)
    max_machines_per_user: Mapped[int] = mapped_column(Integer, default=10)
    max_extensions: Mapped[int] = mapped_column(Integer, default=3)
    allow_sudo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
