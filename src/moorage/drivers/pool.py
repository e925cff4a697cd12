"""One driver per environment, created on first use and kept for the process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from moorage.drivers.base import ContainerDriver
from moorage.models.environment import Environment

__all__ = ["DriverFactory", "DriverPool"]

DriverFactory = Callable[[Environment], ContainerDriver]


class DriverPool:
    """Maps environment ids to their driver.

    Args:
        factory: builds a driver for an environment row; injected so tests can
            hand out fakes and integration tests the real Docker driver.
    """

    def __init__(self, factory: DriverFactory) -> None:
        self._factory = factory
        self._drivers: dict[tuple[str | None, ...], ContainerDriver] = {}
        self._lock = asyncio.Lock()

    def get(self, environment: Environment) -> ContainerDriver:
        """The driver of ``environment``, created by the factory on first call and kept.

        A driver is kept per environment *and address* (URL, TLS and SSH material):
        a caller still holding a row read before an address changed gets a driver
        for the address it read, never one that :meth:`invalidate` has replaced for
        everyone else.

        Raises:
            RuntimeUnavailable: the factory cannot build a driver for it (an SSH
                environment without key or pinned host key); nothing is kept, so the
                next call tries again.
        """
        key = _address(environment)
        driver = self._drivers.get(key)
        if driver is None:
            driver = self._drivers[key] = self._factory(environment)
        return driver

    async def invalidate(self, environment_id: str) -> None:
        """Close and forget the drivers of an environment whose address changed; the
        next :meth:`get` builds a new one. Idempotent: an unknown id is a no-op."""
        for key in [key for key in self._drivers if key[0] == environment_id]:
            driver = self._drivers.pop(key, None)
            if driver is not None:
                await driver.close()

    async def close(self) -> None:
        """Close every driver; the pool can be used again afterwards."""
        async with self._lock:
            drivers, self._drivers = list(self._drivers.values()), {}
        for driver in drivers:
            await driver.close()


def _address(environment: Environment) -> tuple[str | None, ...]:
    """What a driver is built from: the environment's id, kind, URL and credentials."""
    return (
        environment.id,
        environment.kind,
        environment.url,
        environment.tls_ca_sealed,
        environment.tls_cert_sealed,
        environment.tls_key_sealed,
        environment.ssh_key_sealed,
        environment.ssh_host_key,
    )
