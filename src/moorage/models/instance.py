"""Server instances and the reconciler's leader lease.

Each ``moorage serve``/``worker`` process writes a heartbeat. A lease stuck in
``provisioning`` whose instance stopped beating was cut off by a crash and is
failed by the reconciler. Only the holder of the ``reconciler`` lease row acts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, utcnow


class ServerInstance(Base):
    __tablename__ = "server_instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReconcilerLease(Base):
    __tablename__ = "reconciler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
