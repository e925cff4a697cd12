"""The built-in action catalog's hub side: which built-ins an operator enabled for
which nodes or tags, and the files a run collected (``collect_logs``' zip). The
catalog itself (names, platforms, commands) is the agent's:
:data:`moorage.agent.actions.CATALOG`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

FILE_BYTES = 16 * 1024 * 1024


class ActionEnablement(Base):
    """Built-in ``action`` enabled for one node (``node_id``) or the nodes carrying
    ``tag``; ``services`` lists what ``restart_service`` may restart there."""

    __tablename__ = "fleet_action_enablements"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str | None] = mapped_column(
        ForeignKey("fleet_nodes.id", ondelete="CASCADE"), nullable=True
    )
    tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ActionFile(Base):
    """A file an action run uploaded (at most one per run)."""

    __tablename__ = "fleet_action_files"

    id: Mapped[str] = id_column()
    run_id: Mapped[str] = mapped_column(
        ForeignKey("fleet_action_runs.id", ondelete="CASCADE"), unique=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary(length=FILE_BYTES))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
