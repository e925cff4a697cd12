"""Warm workspace: a container started ahead from a template, owned by nobody.

Not a lease: it has no owner, no deadline and no secret anyone sees. A launch
claims one (``warm → claimed``, one ``UPDATE … WHERE state = 'warm'``) and a
session with the same id takes its container over; a claimed row is never warm
again, so a container is never handed to two people nor reused after release.
See :mod:`moorage.services.warm_pools`.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow


class WarmState(enum.StrEnum):
    """``starting → warm → claimed``; ``warm → recycling`` (then the row is deleted)
    when it is too old, its image or template changed, or the pool shrank."""

    STARTING = "starting"
    WARM = "warm"
    CLAIMED = "claimed"
    RECYCLING = "recycling"


class WarmWorkspace(Base):
    __tablename__ = "warm_workspaces"

    # The id of the session it becomes when claimed (its container's name and
    # ``moorage.session`` label say so from the start).
    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=WarmState.STARTING.value, index=True)
    container_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # Published ports, container port → host port, as on sessions.
    ports: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    # The secret it was started with, sealed; a kind may replace it at the claim.
    secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The image id (``sha256:…``) and the template's container settings it was started
    # from: either changing recycles it.
    image_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    spec_hash: Mapped[str] = mapped_column(String(32), default="")
    # The server instance starting it (a row left ``starting`` by a dead one is dropped).
    instance_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
