"""Org: a tenant. Every object belongs to one; the `default` org exists from first start."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

DEFAULT_ORG = "default"


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Every session of the org is recorded, whatever its template says.
    recording_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Recordings older than this are deleted by the reconciler.
    recording_retention_days: Mapped[int] = mapped_column(Integer, default=30)
    # Roles whose users must set up a second factor (TOTP) before anything but their
    # account page answers them; empty: two-factor is optional for everyone.
    two_factor_required_roles: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # Set when a platform admin removed the org (services.org_admin): the row stays
    # for the history of its leases and audit log, renamed so the name is free again.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # How launches pick an environment (services.placement.Policy): ``spread`` (the
    # most free room) or ``pack`` (the least free room that fits).
    placement_policy: Mapped[str] = mapped_column(
        String(8), default="spread", server_default="spread"
    )
