"""Environments: Docker endpoints, their connection test and status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.docker import DockerDriver
from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError, NotFound, RuntimeUnavailable
from moorage.models.environment import Environment

__all__ = ["EnvironmentStatus", "docker_of", "find_environment"]

log = logging.getLogger(__name__)


async def find_environment(db: AsyncSession, org_id: str, ref: str) -> Environment:
    """The environment named (or with id) ``ref``. Raises NotFound."""
    environment = await db.scalar(
        select(Environment).where(
            Environment.org_id == org_id, (Environment.name == ref) | (Environment.id == ref)
        )
    )
    if environment is None:
        raise NotFound(f"no environment named {ref!r}", code="environment_not_found")
    return environment


def docker_of(drivers: DriverPool, environment: Environment) -> DockerDriver:
    """The environment's Docker driver. Raises RuntimeUnavailable for other kinds."""
    driver = drivers.get(environment)
    if not isinstance(driver, DockerDriver):
        raise RuntimeUnavailable(f"environment {environment.name} is not a Docker engine")
    return driver


class EnvironmentStatus:
    """Refreshes every environment's status (reachable, engine version, counts, last
    error). Each check has its own timeout, so a dead endpoint never slows the others."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        *,
        timeout_seconds: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._drivers = drivers
        self._timeout = timeout_seconds
        self._clock = clock

    async def run(self) -> None:
        """Check all environments concurrently."""
        async with self._sessionmaker() as db:
            environments = list(await db.scalars(select(Environment)))
        await asyncio.gather(*(self.check(environment) for environment in environments))

    async def check(self, environment: Environment) -> Environment:
        """Check one environment now and store the result; returns the updated row."""
        version = error = None
        counts: dict[str, int] = {}
        driver: DockerDriver | None = None
        try:
            driver = docker_of(self._drivers, environment)
            info = await asyncio.wait_for(driver.client.system.info(), self._timeout)
            version = str(info.get("ServerVersion", "unknown"))
            counts = {
                "containers_total": int(info.get("Containers", 0)),
                "containers_running": int(info.get("ContainersRunning", 0)),
                "images_total": int(info.get("Images", 0)),
            }
        except TimeoutError:
            error = f"no answer within {self._timeout:.0f} s"
        except MoorageError as exc:
            error = exc.message
        except Exception as exc:  # aiodocker/aiohttp errors outside the driver's methods
            error = f"{type(exc).__name__}: {exc}"
        if error is not None and driver is not None and driver.transport_error:
            error = driver.transport_error
        async with write_session(self._sessionmaker) as db:
            row = await db.get(Environment, environment.id, with_for_update=True)
            if row is None:
                return environment
            row.checked_at = self._clock()
            row.status = "reachable" if error is None else "unreachable"
            row.last_error = error
            if version:
                row.engine_version = version
                for key, value in counts.items():
                    setattr(row, key, value)
        return row
