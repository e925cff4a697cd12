"""Second factor of a user: a TOTP secret (RFC 6238) and single-use recovery codes.

See :mod:`moorage.services.two_factor` for how they are set up and checked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow


class TwoFactor(Base):
    """One row per user who started setting up TOTP.

    ``secret_sealed`` is the base32 secret sealed with the keyring (context
    ``user.totp_secret``). ``enabled_at`` is None until a first code confirmed the
    set-up. ``last_step`` is the last RFC 6238 time step (Unix time // 30) accepted:
    a code of that step or an earlier one is refused (replay protection).
    """

    __tablename__ = "user_two_factor"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_sealed: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class RecoveryCode(Base):
    """A single-use recovery code, stored as the SHA-256 hex of its normalised text;
    ``used_at`` is set when it is spent."""

    __tablename__ = "user_recovery_codes"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
