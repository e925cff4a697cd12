"""Environment: one Docker endpoint: the local socket, TCP with TLS, or SSH (a key
login and a host key pinned when saved). TLS material and the SSH key are sealed
with the keyring (security.crypto).

``kind`` is how Moorage runs workspaces there and ``transport`` how it reaches the
engine: ``kind`` is the transport (``socket``, ``tcp``, ``ssh``) for a plain engine
whose containers are the workspaces, and ``swarm`` for a swarm manager whose services
are (:mod:`moorage.drivers.docker.swarm`); the transport of a swarm comes from its
URL's scheme like any other's, so code that cares how the engine is reached reads
``transport``, never ``kind``."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

LOCAL_ENVIRONMENT = "local"
SWARM = "swarm"
"""The ``kind`` of an environment whose workspaces are swarm services."""

TRANSPORTS = {"unix://": "socket", "tcp://": "tcp", "ssh://": "ssh", "agent://": "agent"}
"""URL scheme → transport word."""


class EnvironmentState(enum.StrEnum):
    """Whether new sessions may start on an environment (issue 15, placement):
    ``active``; ``cordoned``: no new sessions, live ones keep running; ``draining``:
    cordoned, and the environments page shows what is left on it."""

    ACTIVE = "active"
    CORDONED = "cordoned"
    DRAINING = "draining"


class Environment(Base):
    __tablename__ = "environments"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="socket")
    url: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    tls_ca_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    tls_cert_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    tls_key_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    ssh_key_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    ssh_host_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    engine_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    containers_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    containers_running: Mapped[int | None] = mapped_column(Integer, nullable=True)
    images_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Host reach (bind mounts of host paths, privileged, host network/PID/IPC, added
    # capabilities, devices, the Docker socket) for containers and stacks created
    # through Moorage. Off by default; only an admin may turn it on.
    allow_host_access: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Placement (services.placement): labels templates match (``{"site": "lab-2"}``),
    # whether new sessions may start here, and the room for workspaces: the engine's
    # CPUs and memory (read at each status check) unless an operator overrides them.
    labels: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(
        String(16), default=EnvironmentState.ACTIVE.value, server_default="active"
    )
    engine_cpus: Mapped[float | None] = mapped_column(Float, nullable=True)
    engine_memory_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cpu_capacity: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory_capacity_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def transport(self) -> str:
        """How the engine is reached, from the URL's scheme: ``socket``, ``tcp``,
        ``ssh``, ``agent``; ``""`` for a scheme Moorage does not know."""
        return next((t for prefix, t in TRANSPORTS.items() if self.url.startswith(prefix)), "")

    def workspace_capacity(self) -> tuple[float | None, int | None]:
        """``(CPU cores, memory MB)`` for workspaces: the operator's override, else
        what the engine reported; None where neither is known (no limit)."""
        cpus = self.cpu_capacity if self.cpu_capacity is not None else self.engine_cpus
        memory = (
            self.memory_capacity_mb
            if self.memory_capacity_mb is not None
            else self.engine_memory_mb
        )
        return cpus, memory
