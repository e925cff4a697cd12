"""What one Moorage process holds for its lifetime, shared by API, UI and gateway."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from moorage.config import Settings
from moorage.drivers.docker.agent_tunnel import AgentConnections
from moorage.drivers.machines import MachineConnector
from moorage.drivers.pool import DriverPool
from moorage.reconciler.loop import Reconciler
from moorage.reconciler.reservations import MachineProber
from moorage.security.crypto import Keyring
from moorage.services.docker import DockerServices, EnvironmentStatus
from moorage.services.fleet.ingest import Ingest
from moorage.services.ldap_sync import DirectorySync
from moorage.services.provisioning import Provisioner
from moorage.services.recordings import RecordingService
from moorage.services.reservations import ReservationService
from moorage.services.sessions import SessionService
from moorage.services.shares import ShareService
from moorage.services.warm_pools import WarmPools
from moorage.services.workshops import WorkshopService

__all__ = ["Context"]


@dataclass
class Context:
    """Process-wide objects, built by the app's lifespan and kept on ``app.state.context``."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    drivers: DriverPool
    sessions: SessionService
    reconciler: Reconciler | None
    instance_id: str
    keyring: Keyring
    connector: MachineConnector
    reservations: ReservationService
    prober: MachineProber
    provisioner: Provisioner
    http_client: aiohttp.ClientSession
    """Pooled HTTP client of the workspace reverse proxy (no decompression, no cookies)."""
    environment_status: EnvironmentStatus
    ingest: Ingest
    """Agent reports of this process, written in batches."""
    docker: DockerServices
    """Docker management: environments, containers, images, volumes, networks, stacks."""
    shares: ShareService
    """Share links, their grants, and who is connected to each session now."""
    recordings: RecordingService
    """Recordings of sessions: written by the gateway, read by their owner and admins."""
    warm_pools: WarmPools | None = None
    """Warm workspaces: claimed by launches, kept by the reconciler's warm pool job."""
    workshops: WorkshopService | None = None
    """Workshops: join codes, seats, the instructor's actions and their end."""
    directory_sync: DirectorySync | None = None
    """LDAP directories: the background sync and an admin's sync now."""
    agent_connections: AgentConnections = field(default_factory=AgentConnections)
    """The Docker tunnels that agents (``moorage agent run --docker``) opened to this
    process: the transport of ``agent://`` environments."""
