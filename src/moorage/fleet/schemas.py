"""Request models of the agent API: enrolment, reports and action results. The report
format is documented in :mod:`moorage.fleet.agent`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_REPORT_BYTES", "ActionResult", "Disk", "EnrollRequest", "Metrics", "Report"]

MAX_REPORT_BYTES = 64 * 1024


class EnrollRequest(BaseModel):
    """``POST /api/v1/agents/enroll``: the token and this machine's hostname and OS."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=8, max_length=128)
    hostname: str = Field(min_length=1, max_length=255)
    os: str | None = Field(None, max_length=255)


class Metrics(BaseModel):
    """A report's values: percents 0–100, ``load1``, rates in bytes per second, counts."""

    model_config = ConfigDict(extra="forbid")

    cpu_percent: float = Field(ge=0, le=100)
    load1: float = Field(ge=0, le=1e15)
    memory_percent: float = Field(ge=0, le=100)
    swap_percent: float = Field(0.0, ge=0, le=100)
    disk_read_bps: float = Field(0.0, ge=0, le=1e15)
    disk_write_bps: float = Field(0.0, ge=0, le=1e15)
    net_rx_bps: float = Field(0.0, ge=0, le=1e15)
    net_tx_bps: float = Field(0.0, ge=0, le=1e15)
    processes: int = Field(0, ge=0, le=10_000_000)
    containers_running: int | None = Field(None, ge=0, le=1_000_000)
    containers_total: int | None = Field(None, ge=0, le=1_000_000)


class Disk(BaseModel):
    """One mounted filesystem: use in percent and bytes."""

    model_config = ConfigDict(extra="forbid")

    mount: str = Field(min_length=1, max_length=255)
    percent: float = Field(ge=0, le=100)
    used_bytes: int = Field(ge=0)
    total_bytes: int = Field(ge=0)


class Report(BaseModel):
    """One agent report (the format is in :mod:`moorage.fleet.agent`)."""

    model_config = ConfigDict(extra="forbid")

    agent_version: str = Field(max_length=32)
    collected_at: datetime = Field(description="RFC 3339, with a UTC offset.")
    hostname: str = Field(min_length=1, max_length=255)
    os: str | None = Field(None, max_length=255)
    uptime_seconds: float = Field(0.0, ge=0)
    allow_actions: bool = False
    metrics: Metrics
    disks: list[Disk] = Field(default_factory=list, max_length=32)


class ActionResult(BaseModel):
    """An action run's outcome; ``output`` is stdout then stderr, at most ~64 KiB."""

    model_config = ConfigDict(extra="forbid")

    state: str = Field(pattern="^(succeeded|failed|timed_out|refused)$")
    exit_code: int | None = None
    output: str = Field("", max_length=70_000)
