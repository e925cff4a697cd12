"""Quotas: limits on what the users of a group, or of a whole org, hold together.

Every limit is optional (None: no limit). They are checked when a lease is
created (:mod:`moorage.services.quotas`) and, for the longest lease, when one
is extended.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base

__all__ = ["QUOTA_FIELDS", "OrgQuota", "QuotaColumns"]

QUOTA_FIELDS = (
    "max_live_sessions",
    "max_cpu_cores",
    "max_memory_mb",
    "max_reserved_machines",
    "max_lease_minutes",
)
"""The quota columns, in the order pages show them."""


class QuotaColumns:
    """The limits, shared by groups and orgs."""

    max_live_sessions: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Sessions live at once (pending to releasing, stopped ones included)."""
    max_cpu_cores: Mapped[float | None] = mapped_column(Float, nullable=True)
    """CPU cores of the templates of running sessions (a stopped one holds none)."""
    max_memory_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Memory (MiB) of the templates of running sessions (a stopped one holds none)."""
    max_reserved_machines: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Pool machines held by live reservations at once."""
    max_lease_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The longest one session or reservation may last, extensions included."""


class OrgQuota(QuotaColumns, Base):
    """The limits of a whole org (one row per org, absent while none is set)."""

    __tablename__ = "org_quotas"

    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True)
