"""API token: a bearer credential stored hashed, found by its prefix.

A login cookie is a token of kind ``login`` with an expiry, so both paths share
one lookup and one revocation.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow


class TokenKind(enum.StrEnum):
    API = "api"
    LOGIN = "login"


class TokenScope(enum.StrEnum):
    """What a token may do: ``read`` only reads (GET and HEAD, no websocket);
    ``write`` does whatever its user may."""

    READ = "read"
    WRITE = "write"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[str] = mapped_column(String(16), default=TokenKind.API.value)
    scope: Mapped[str] = mapped_column(String(8), default=TokenScope.WRITE.value)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
