"""Lease columns and states, shared by sessions and (later) reservations.

A lease holds resources for an owner from ``starts_at`` until ``expires_at``;
see :mod:`moorage.services.leases` for the rules that act on these columns.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import UTCDateTime, utcnow


class LeaseState(enum.StrEnum):
    """``pending → provisioning → ready → releasing → released``; ``failed`` from any
    non-terminal state (DESIGN.md, "The one idea: leases"). A session can also go
    ``ready ⇄ stopped``: its container is stopped with its disk kept, and its
    deadline still runs (``stopped → releasing`` at the deadline)."""

    PENDING = "pending"
    PROVISIONING = "provisioning"
    READY = "ready"
    STOPPED = "stopped"
    RELEASING = "releasing"
    RELEASED = "released"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (LeaseState.RELEASED, LeaseState.FAILED)


LIVE_STATES = (
    LeaseState.PENDING.value,
    LeaseState.PROVISIONING.value,
    LeaseState.READY.value,
    LeaseState.STOPPED.value,
    LeaseState.RELEASING.value,
)
"""States of a lease that holds something: it counts against quotas of leases
(sessions per user), and its deadline is kept."""

TIMED_STATES = (LeaseState.READY.value, LeaseState.STOPPED.value)
"""States whose deadline the reconciler's queue keeps (the clock runs)."""


class LeaseMixin:
    """Columns every lease row has. Times are UTC."""

    state: Mapped[str] = mapped_column(String(16), default=LeaseState.PENDING.value, index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The server instance that is provisioning the lease; see models.instance.
    instance_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
