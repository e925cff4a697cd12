"""The one path every Docker management operation takes, written once:

1. check the caller's role (operator or admin: :func:`~moorage.security.rbac.require_role`),
2. find the environment by name (or id) in the caller's org,
3. call the driver,
4. write the audit event, only once the call succeeded.

Resource services (:mod:`.containers`, :mod:`.images` …) derive from
:class:`DockerService` and use :meth:`DockerService.target` for reads and
:meth:`DockerService.operation` for changes, so no entry point (API, page, websocket,
CLI) can skip the role check or forget the audit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from moorage.drivers.docker import DockerDriver
from moorage.drivers.pool import DriverPool
from moorage.errors import NotFound, RuntimeUnavailable
from moorage.models.environment import Environment
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.audit import audit

__all__ = [
    "Caller",
    "DockerService",
    "Operation",
    "Target",
    "docker_of",
    "find_environment",
]


@dataclass(frozen=True)
class Caller:
    """Who asks, and over which connection (its client address is the audit's source).

    ``connection`` is ``None`` for callers without one (the CLI, jobs).
    """

    user: User
    connection: HTTPConnection | None = None


async def find_environment(db: AsyncSession, org_id: str, ref: str) -> Environment:
    """The environment of org ``org_id`` named (or with id) ``ref``.

    Raises:
        NotFound: none in that org (code ``environment_not_found``).
    """
    environment = await db.scalar(
        select(Environment).where(
            Environment.org_id == org_id, (Environment.name == ref) | (Environment.id == ref)
        )
    )
    if environment is None:
        raise NotFound(f"no environment named {ref!r}", code="environment_not_found")
    return environment


def docker_of(drivers: DriverPool, environment: Environment) -> DockerDriver:
    """The environment's Docker driver from the pool.

    Raises:
        RuntimeUnavailable: the driver cannot be built (see :meth:`DriverPool.get`), or
            the environment is not a Docker engine.
    """
    driver = drivers.get(environment)
    if not isinstance(driver, DockerDriver):
        raise RuntimeUnavailable(f"environment {environment.name} is not a Docker engine")
    return driver


@dataclass
class Target:
    """The environment an operation acts on; its driver is built on first use (a stack's
    files can be handled without reaching the engine)."""

    environment: Environment
    drivers: DriverPool = field(repr=False)

    @cached_property
    def driver(self) -> DockerDriver:
        """The environment's Docker driver. Raises RuntimeUnavailable (see :func:`docker_of`)."""
        return docker_of(self.drivers, self.environment)


@dataclass
class Operation(Target):
    """A :class:`Target` inside :meth:`DockerService.operation`; the block may set
    ``object_id`` and ``detail`` once the driver has answered (a new container's id)."""

    object_id: str = ""
    detail: str | None = None


class DockerService:
    """Base of the Docker resource services: role check, environment lookup, audit.

    Args:
        sessionmaker: database sessions (the environment lookup, the audit log).
        drivers: the process's driver pool.
    """

    least_role = Role.OPERATOR

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], drivers: DriverPool) -> None:
        self._sessionmaker = sessionmaker
        self._drivers = drivers

    def authorize(self, caller: Caller) -> None:
        """Raise :class:`~moorage.errors.Forbidden` unless the caller is an operator or admin."""
        require_role(caller.user, self.least_role)

    async def target(self, caller: Caller, env: str) -> Target:
        """Check the role, then find ``env`` in the caller's org (for reads).

        Raises:
            Forbidden: the caller is below operator. NotFound: no such environment.
        """
        self.authorize(caller)
        async with self._sessionmaker() as db:
            environment = await find_environment(db, caller.user.org_id, env)
        return Target(environment, self._drivers)

    @asynccontextmanager
    async def operation(
        self,
        caller: Caller,
        env: str,
        action: str,
        object_id: str,
        *,
        detail: str | None = None,
    ) -> AsyncIterator[Operation]:
        """Check, find, let the block call the driver, then audit ``action``
        (``<object type>.<verb>``, e.g. ``container.stop``) on ``object_id``. Nothing is
        audited when the block raises.

        Raises:
            Forbidden, NotFound: as :meth:`target`; whatever the block raises.
        """
        target = await self.target(caller, env)
        operation = Operation(target.environment, self._drivers, object_id, detail)
        yield operation
        await self.record(caller, operation, action, operation.object_id, operation.detail)

    async def record(
        self,
        caller: Caller,
        target: Target,
        action: str,
        object_id: str,
        detail: str | None = None,
    ) -> None:
        """Write the audit event of a finished ``action`` (used by :meth:`operation`, and
        directly at the end of a stream, which cannot be a ``with`` block)."""
        await audit(
            self._sessionmaker,
            caller.connection,
            caller.user,
            action,
            action.partition(".")[0],
            object_id,
            environment=target.environment.name,
            detail=detail,
        )
