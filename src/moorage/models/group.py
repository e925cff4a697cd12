"""Group: a named set of users (a class, a team), and what it may launch or reserve.

A template or a pool with no group rows is open to everyone of its org; with
some, only members of one of those groups (and admins) may launch or reserve
from it ("who may launch", "who may reserve"). A group also carries quotas
(:class:`~moorage.models.quota.QuotaColumns`) on what its members hold together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow
from moorage.models.quota import QuotaColumns

__all__ = ["Group", "GroupMember", "PoolGroup", "TemplateGroup"]


class Group(QuotaColumns, Base):
    __tablename__ = "user_groups"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GroupMember(Base):
    """One user in one group."""

    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TemplateGroup(Base):
    """A group whose members may launch a template (the template is restricted)."""

    __tablename__ = "template_groups"

    template_id: Mapped[str] = mapped_column(
        ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PoolGroup(Base):
    """A group whose members may reserve machines of a pool (the pool is restricted)."""

    __tablename__ = "pool_groups"

    pool_id: Mapped[str] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
