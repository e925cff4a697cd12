"""User and Role."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow


class Role(enum.StrEnum):
    """Roles, most to least powerful (DESIGN.md, "Concepts")."""

    ADMIN = "admin"
    OPERATOR = "operator"
    INSTRUCTOR = "instructor"
    MEMBER = "member"
    VIEWER = "viewer"


class AuthSource(enum.StrEnum):
    """Where a user signs in: ``local`` (a Moorage password), ``ldap``, ``oidc``."""

    LOCAL = "local"
    LDAP = "ldap"
    OIDC = "oidc"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Set when an admin deleted the user: the row stays for the history of its
    # leases and the audit log, renamed so the username is free again.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The language the person chose (moorage.i18n.LANGUAGES); None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    # Where the person signs in (AuthSource): Moorage's own password, or a directory
    # that owns the account (issue 13). ``external_id``: the directory's stable id
    # for them (an LDAP entry's DN, an OIDC ``sub``), None for local users.
    auth_source: Mapped[str] = mapped_column(String(16), default="local", server_default="local")
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN
