"""Reservation: a lease on N pool machines with a generated account on each."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moorage.db.base import Base, UTCDateTime, id_column, utcnow
from moorage.models.lease import LeaseMixin
from moorage.models.machine import Machine
from moorage.models.pool import Pool
from moorage.models.user import User


class AccountState(enum.StrEnum):
    """The account of one reservation on one machine."""

    CREATING = "creating"
    READY = "ready"
    REMOVING = "removing"
    REMOVED = "removed"
    # Removal failed; the machine is dirty until a later clean-up succeeds.
    LEFT_BEHIND = "left_behind"


class Reservation(LeaseMixin, Base):
    __tablename__ = "reservations"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(32))
    password_sealed: Mapped[str] = mapped_column(Text)
    sudo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    pool: Mapped[Pool] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")
    accounts: Mapped[list[ReservationAccount]] = relationship(
        lazy="selectin", order_by="ReservationAccount.machine_name"
    )


class ReservationAccount(Base):
    """One reservation's account on one machine; outlives the lease while the
    machine is dirty, so the clean-up is never forgotten."""

    __tablename__ = "reservation_accounts"

    id: Mapped[str] = id_column()
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"), index=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machines.id"), index=True)
    machine_name: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=AccountState.CREATING.value)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    machine: Mapped[Machine] = relationship(lazy="joined")
