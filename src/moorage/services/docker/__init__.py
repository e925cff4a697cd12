"""Docker management (operators and admins), one service per resource.

Every operation takes the same path, written once in :mod:`._operation`: check the
role, find the environment in the caller's org, call the driver, write the audit
event. API routes, pages and the exec websocket call these services only; none of
them reaches a driver.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.drivers.pool import DriverPool
from moorage.security.crypto import Keyring
from moorage.services.docker._operation import Caller, find_environment
from moorage.services.docker.containers import ContainerService
from moorage.services.docker.environment_status import EnvironmentStatus
from moorage.services.docker.environments import EnvironmentService
from moorage.services.docker.events import EventService
from moorage.services.docker.exec import SHELLS, ExecService
from moorage.services.docker.git_stacks import GitStackService
from moorage.services.docker.image_updates import ImageUpdateService
from moorage.services.docker.images import ImageService
from moorage.services.docker.networks import NetworkService
from moorage.services.docker.prune import PruneService
from moorage.services.docker.registries import RegistryService
from moorage.services.docker.stacks import StackService
from moorage.services.docker.volumes import VolumeService

__all__ = [
    "SHELLS",
    "Caller",
    "DockerServices",
    "EnvironmentStatus",
    "find_environment",
]


class DockerServices:
    """The Docker services of one process, sharing its database and driver pool.

    Args:
        sessionmaker: database sessions.
        drivers: one driver per environment.
        keyring: seals environment secrets and registry passwords.
        data_dir: the data directory (stack files live under ``stacks/``).
        status: the environments' connection test.
        git_allow_file_urls: whether Git stacks may come from ``file://`` repositories.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        keyring: Keyring,
        data_dir: Path,
        status: EnvironmentStatus,
        *,
        git_allow_file_urls: bool = False,
    ) -> None:
        self.environments = EnvironmentService(sessionmaker, drivers, keyring, status)
        self.containers = ContainerService(sessionmaker, drivers)
        self.exec = ExecService(sessionmaker, drivers)
        self.registries = RegistryService(sessionmaker, keyring)
        self.images = ImageService(sessionmaker, drivers, self.registries)
        self.volumes = VolumeService(sessionmaker, drivers)
        self.networks = NetworkService(sessionmaker, drivers)
        self.prune = PruneService(sessionmaker, drivers)
        self.stacks = StackService(sessionmaker, drivers, data_dir)
        self.events = EventService(sessionmaker, drivers)
        self.image_updates = ImageUpdateService(
            sessionmaker, drivers, self.registries, keyring, data_dir
        )
        self.git_stacks = GitStackService(
            sessionmaker, drivers, keyring, data_dir, allow_file_urls=git_allow_file_urls
        )
