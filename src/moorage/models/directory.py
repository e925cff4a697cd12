"""An org's LDAP or Active Directory server: where its directory users sign in.

One row per org at most. See :mod:`moorage.services.ldap_settings` for what each
field means and :mod:`moorage.services.ldap_sync` for the background sync.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

__all__ = ["LdapDirectory"]


class LdapDirectory(Base):
    """The LDAP settings of one org.

    ``bind_password_sealed`` is the service account's password sealed with the
    keyring (context ``ldap.bind_password``); it is never returned. ``group_rules``
    is the JSON of :mod:`moorage.services.directory_rules`. ``last_sync_*`` say how
    the last background sync went (``last_sync_report``: counts, or ``{"error"}``).
    """

    __tablename__ = "ldap_directories"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), unique=True, index=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    url: Mapped[str] = mapped_column(String(255))
    start_tls: Mapped[bool] = mapped_column(Boolean, default=False)
    ca_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    bind_dn: Mapped[str] = mapped_column(String(512), default="")
    bind_password_sealed: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    user_base: Mapped[str] = mapped_column(String(512))
    user_filter: Mapped[str] = mapped_column(String(1024))
    username_attribute: Mapped[str] = mapped_column(String(64))
    display_name_attribute: Mapped[str] = mapped_column(String(64))
    email_attribute: Mapped[str] = mapped_column(String(64))
    group_base: Mapped[str] = mapped_column(String(512), default="")
    group_filter: Mapped[str] = mapped_column(String(1024))
    group_member_attribute: Mapped[str] = mapped_column(String(64))
    nested_groups: Mapped[bool] = mapped_column(Boolean, default=False)
    group_rules: Mapped[list] = mapped_column(JSON, default=list)
    default_role: Mapped[str] = mapped_column(String(16))
    sync_interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_sync_report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    last_sync_error: Mapped[str | None] = mapped_column(Text, nullable=True)
