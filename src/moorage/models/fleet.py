"""Fleet monitoring: nodes (machines running ``moorage agent``), their samples and
roll-ups, enrolment tokens and install links, alert rules, alerts, notification
channels, and the remote actions operators may run on a node."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

# The metrics kept per sample, in these units: percents 0–100, load (1-minute
# average), bytes per second, counts.
METRICS = (
    "cpu_percent",
    "load1",
    "memory_percent",
    "swap_percent",
    "disk_percent",
    "disk_read_bps",
    "disk_write_bps",
    "net_rx_bps",
    "net_tx_bps",
    "processes",
    "containers_running",
)

HEALTH_CRITICAL = "health_critical"
"""The ``builtin`` key of every org's default rule, "health turned critical"."""
WEBHOOK_CHANNEL = "webhook"
"""The ``builtin`` key of the channel ``MOORAGE_WEBHOOK_URL`` manages."""

RAW, MINUTE, HOUR = 0, 60, 3600
"""Sample resolutions (seconds): raw reports, 1-minute and 1-hour averages."""


class Node(Base):
    """A machine running the agent: its credential (hashed), tags, and the latest
    report's values, health and status (written by the ingest, read by the pages)."""

    __tablename__ = "fleet_nodes"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    credential_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    credential_hash: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    os: Mapped[str | None] = mapped_column(String(255), nullable=True)
    agent_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    allow_actions: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    health: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latest: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Sample(Base):
    """One report (``resolution`` 0) or the average of ``count`` reports over a
    minute or an hour starting at ``at``."""

    __tablename__ = "fleet_samples"
    __table_args__ = (Index("ix_fleet_samples_node_res_at", "node_id", "resolution", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    node_id: Mapped[str] = mapped_column(ForeignKey("fleet_nodes.id", ondelete="CASCADE"))
    resolution: Mapped[int] = mapped_column(Integer, default=RAW)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    cpu_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    load1: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    swap_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    disk_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    disk_read_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    disk_write_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    net_rx_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    net_tx_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    processes: Mapped[float | None] = mapped_column(Float, nullable=True)
    containers_running: Mapped[float | None] = mapped_column(Float, nullable=True)


class EnrollmentToken(Base):
    """A token that enrols up to ``max_uses`` nodes until ``expires_at`` (hashed)."""

    __tablename__ = "fleet_enrollment_tokens"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InstallLink(Base):
    """A one-time link serving the install command and the agent; it carries an
    enrolment token (sealed) for the script it serves."""

    __tablename__ = "fleet_install_links"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    enrollment_sealed: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertRule(Base):
    """``metric`` ``>=`` ``threshold`` for ``duration_seconds`` (or ``metric`` =
    ``offline``: the node stopped reporting; ``critical``: its health status is
    critical), on nodes carrying ``tag`` (any when empty).

    ``builtin`` names a rule Moorage creates for every org (:data:`HEALTH_CRITICAL`):
    one per org, never removed, only disabled."""

    __tablename__ = "fleet_alert_rules"
    __table_args__ = (UniqueConstraint("org_id", "builtin"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    metric: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float] = mapped_column(Float, default=0.0)
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(16), default="warn")
    tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    builtin: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Alert(Base):
    """One firing of a rule on a node: ``open`` until the rule stops firing."""

    __tablename__ = "fleet_alerts"
    __table_args__ = (Index("ix_fleet_alerts_rule_node_state", "rule_id", "node_id", "state"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("fleet_alert_rules.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(ForeignKey("fleet_nodes.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotificationChannel(Base):
    """An Apprise URL (sealed: it often holds a secret) and its cooldown; with
    ``rule_id``, only that rule's alerts go to it (all of the org's otherwise).

    ``builtin`` names a channel a setting manages (:data:`WEBHOOK_CHANNEL`, from
    ``MOORAGE_WEBHOOK_URL``): created, updated and removed at start-up with it."""

    __tablename__ = "fleet_channels"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    url_sealed: Mapped[str] = mapped_column(Text)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=300)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("fleet_alert_rules.id", ondelete="CASCADE"), nullable=True
    )
    builtin: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ActionDefinition(Base):
    """An allow-listed action: a name mapped to a fixed argument vector."""

    __tablename__ = "fleet_actions"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    argv: Mapped[list[str]] = mapped_column(JSON)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=60)
    description: Mapped[str] = mapped_column(Text, default="")


class ActionRun(Base):
    """One run of an action on a node: ``queued`` → ``sent`` (handed to the agent
    with a report answer) → ``succeeded``, ``failed`` or ``timed_out``."""

    __tablename__ = "fleet_action_runs"

    id: Mapped[str] = id_column()
    node_id: Mapped[str] = mapped_column(
        ForeignKey("fleet_nodes.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    argv: Mapped[list[str]] = mapped_column(JSON)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=60)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    """A built-in of the agent's catalog: ``argv`` is empty, the agent builds it."""
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """A built-in's parameters (``{"service": …}`` for ``restart_service``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
