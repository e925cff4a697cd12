"""Request models of the fleet: what agents send (enrolment, reports, action results)
and what operators send (enrolment tokens, install links, node tags, actions).

:class:`Report` is the one definition of the agent's report: the agent
(:mod:`moorage.agent.collector`) builds a plain dict, and a unit test runs that
collector and validates its output here, extra fields forbidden, field for field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from moorage.schemas._input import InputModel

__all__ = [
    "MAX_REPORT_BYTES",
    "ActionCreate",
    "ActionRequest",
    "ActionResult",
    "CatalogEnable",
    "Disk",
    "EnrollRequest",
    "EnrollmentTokenCreate",
    "InstallLinkCreate",
    "Metrics",
    "NodeEnable",
    "NodeUpdate",
    "Report",
]

MAX_REPORT_BYTES = 64 * 1024


# -- from agents --------------------------------------------------------------------------


class EnrollRequest(BaseModel):
    """``POST /api/v1/agents/enroll``: the token and this machine's hostname and OS."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=8, max_length=128)
    hostname: str = Field(min_length=1, max_length=255)
    os: str | None = Field(None, max_length=255)


class Metrics(BaseModel):
    """A report's values: percents 0–100, ``load1``, rates in bytes per second, counts.
    The container counts are absent when the agent cannot read a Docker socket."""

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
    """One agent report, ``POST /api/v1/agents/report`` (JSON, at most
    :data:`MAX_REPORT_BYTES`); an example is in :mod:`moorage.agent.collector`."""

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


# -- from operators -----------------------------------------------------------------------


class EnrollmentTokenCreate(InputModel):
    """``POST /api/v1/enrollment-tokens``: label, life (seconds), uses, tags for its nodes."""

    name: str = Field("", max_length=128)
    ttl_seconds: int = Field(3600, ge=60, le=30 * 86400, description="Valid for this long.")
    max_uses: int = Field(1, ge=1, le=100_000, description="Nodes it may enrol.")
    tags: list[str] = Field(default_factory=list, max_length=16)


class InstallLinkCreate(InputModel):
    """``POST /api/v1/install-links``: the link's life (seconds), the enrolled nodes' tags,
    and how many machines its enrolment token may enrol (the link itself is fetched
    once; a PowerShell push to several hosts enrols each with that token)."""

    ttl_seconds: int = Field(3600, ge=60, le=7 * 86400)
    tags: list[str] = Field(default_factory=list, max_length=16)
    hosts: int = Field(1, ge=1, le=1000, description="Machines the link may enrol.")


class NodeUpdate(InputModel):
    """``PATCH /api/v1/nodes/{id}``: the node's tags (replaced)."""

    tags: list[str] = Field(max_length=16)


class ActionCreate(InputModel):
    """An allow-listed action: ``argv`` runs as given, never through a shell."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    argv: list[str] = Field(min_length=1, max_length=64)
    timeout_seconds: int = Field(60, ge=1, le=3600)
    description: str = Field("", max_length=500)


SERVICE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,127}$"


class ActionRequest(InputModel):
    """``POST /api/v1/nodes/{id}/actions``: the allow-listed or built-in action's name
    and, for ``restart_service``, the service."""

    action: str = Field(min_length=1, max_length=64)
    service: str | None = Field(None, pattern=SERVICE_PATTERN)


class CatalogEnable(InputModel):
    """``PUT /api/v1/action-catalog/{name}``: the nodes (names or ids) and tags a
    built-in is enabled for (replacing what was), and for ``restart_service`` the
    services it may restart there."""

    nodes: list[str] = Field(default_factory=list, max_length=1000)
    tags: list[str] = Field(default_factory=list, max_length=64)
    services: list[Annotated[str, Field(pattern=SERVICE_PATTERN)]] = Field(
        default_factory=list, max_length=64
    )


class NodeEnable(InputModel):
    """``POST /api/v1/nodes/{id}/action-catalog/{name}``: enable a built-in for this
    node too; ``services`` for ``restart_service``."""

    services: list[Annotated[str, Field(pattern=SERVICE_PATTERN)]] = Field(
        default_factory=list, max_length=64
    )
