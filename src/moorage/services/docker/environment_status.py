"""The status of every environment: reachable or not, engine version, counts, last error."""

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
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.services.docker._operation import docker_of

__all__ = ["EnvironmentStatus"]

log = logging.getLogger(__name__)


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
        """Check one environment now and store the result; returns the updated row (or
        ``environment`` itself when its row was deleted meanwhile). Never raises for an
        engine that fails: the failure is the result."""
        info = error = None
        driver: DockerDriver | None = None
        try:
            driver = docker_of(self._drivers, environment)
            info = await asyncio.wait_for(driver.engine_info(), self._timeout)
        except TimeoutError:
            error = f"no answer within {self._timeout:.0f} s"
        except MoorageError as exc:
            error = exc.message
        except Exception as exc:  # a driver that cannot be built (bad TLS material …)
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
            if info is not None:
                row.engine_version = info.version
                row.containers_total = info.containers_total
                row.containers_running = info.containers_running
                row.images_total = info.images_total
                row.engine_cpus = info.cpus
                row.engine_memory_mb = info.memory_mb
        return row
