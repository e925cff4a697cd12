"""The contract between the reconciler and each kind of lease it keeps, and the
part of keeping that every lease kind shares (:class:`ServiceKeeper`)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.models.lease import LIVE_STATES, TIMED_STATES, LeaseMixin, LeaseState
from moorage.reconciler.leader import alive_instances
from moorage.services.leases import LeaseService

__all__ = ["LeaseKeeper", "Schedule", "ServiceKeeper", "cut_off"]

log = logging.getLogger(__name__)

Schedule = Callable[[str, datetime], None]
"""``schedule(lease_id, expires_at)``: put (or move) a deadline in the reconciler's queue."""


class LeaseKeeper(ABC):
    """Keeps one kind of lease (sessions, reservations) in line with its runtime.

    The reconciler calls these only while its process leads; a keeper never
    raises for an unreachable runtime (it logs once and retries on the next pass).
    """

    kind: str
    """Short name of the lease kind, e.g. ``"session"``; part of deadline keys."""

    @abstractmethod
    async def expire(self, lease_id: str, deadline: datetime) -> bool | None:
        """Called when ``deadline`` passed. Release the lease if it is still ready (or
        stopped) and still due.

        Returns:
            True when released now (its lateness is recorded), False when the release
            is left for a retry, None when there was nothing to do (extended, ended).
        """

    @abstractmethod
    async def reconcile(self, schedule: Schedule) -> None:
        """A full pass: schedule every ready lease's deadline, repair drift both ways,
        retry unfinished releases, fail launches cut off by a crash."""


def cut_off(
    instance_id: str | None,
    created_at: datetime,
    *,
    me: str,
    alive: set[str],
    exclusive: bool,
    now: datetime,
    timeout_seconds: float,
) -> bool:
    """True when a lease still being provisioned by ``instance_id`` will never finish:
    that instance is dead (or, with ``exclusive``, is any other process than ``me``),
    or provisioning has taken more than twice ``timeout_seconds``."""
    if instance_id is None:
        return True
    if instance_id != me and (exclusive or instance_id not in alive):
        return True
    return (now - created_at).total_seconds() > timeout_seconds * 2


L = TypeVar("L", bound=LeaseMixin)


class ServiceKeeper(LeaseKeeper, Generic[L]):
    """A keeper of a lease kind served by a :class:`~moorage.services.leases.LeaseService`:
    expiry and the per-state repair of live rows are written here once; a subclass
    adds what its runtime needs (a session keeper compares containers with rows).

    Args:
        sessionmaker: opens database sessions.
        leases: the kind's service; releases and failures go through it.
        instance_id: this process's id.
        instance_ttl_seconds: how long an instance's heartbeat counts as alive.
        provision_timeout_seconds: how long provisioning may take; twice this and it
            is considered cut off.
        exclusive: only this process provisions (SQLite): any other instance's
            provisioning is cut off.
        clock: current UTC time; injected for tests.
    """

    interrupted_error: str = "the provisioning was interrupted"
    """The ``error`` of a lease failed because its provisioning was cut off."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        leases: LeaseService[L],
        *,
        instance_id: str,
        instance_ttl_seconds: float,
        provision_timeout_seconds: float,
        exclusive: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._leases = leases
        self._instance_id = instance_id
        self._instance_ttl = instance_ttl_seconds
        self._timeout = provision_timeout_seconds
        self._exclusive = exclusive
        self._clock = clock

    async def expire(self, lease_id: str, deadline: datetime) -> bool | None:
        async with self._sessionmaker() as db:
            lease = await db.get(self._leases.model, lease_id, populate_existing=True)
            if lease is None or lease.state not in TIMED_STATES:
                return None
            if lease.expires_at > self._clock():
                return None  # extended by another replica; the next pass reschedules it
        return await self._leases.release_by_id(lease_id)

    async def live_leases(self, *where: Any) -> tuple[list[L], set[str], datetime]:
        """The live leases of the kind (narrowed by ``where`` clauses), the ids of the
        server instances alive now, and now."""
        now = self._clock()
        model = self._leases.model
        async with self._sessionmaker() as db:
            live = list(await db.scalars(select(model).where(model.state.in_(LIVE_STATES), *where)))
            alive = await alive_instances(db, now, self._instance_ttl)
        return live, alive, now

    def is_cut_off(self, lease: L, *, alive: set[str], now: datetime) -> bool:
        """True when ``lease`` is pending or provisioning and that will never finish
        (see :func:`cut_off`)."""
        if lease.state not in (LeaseState.PENDING.value, LeaseState.PROVISIONING.value):
            return False
        return cut_off(
            lease.instance_id,
            self._leases.as_row(lease).created_at,
            me=self._instance_id,
            alive=alive,
            exclusive=self._exclusive,
            now=now,
            timeout_seconds=self._timeout,
        )

    async def keep(self, lease: L, schedule: Schedule, *, alive: set[str], now: datetime) -> None:
        """Act on one live lease by its state: ``ready`` or ``stopped`` → schedule its
        deadline;
        ``releasing`` → retry the release; pending or provisioning cut off by a
        crash → fail it with :attr:`interrupted_error` (which reclaims it)."""
        lease_id = self._leases.as_row(lease).id
        state = LeaseState(lease.state)
        if state.value in TIMED_STATES:
            schedule(lease_id, lease.expires_at)
        elif state == LeaseState.RELEASING:
            await self._leases.release_by_id(lease_id)
        elif self.is_cut_off(lease, alive=alive, now=now):
            log.warning("%s %s: its provisioning was cut off; failing it", self.kind, lease_id)
            await self._leases.fail(lease_id, self.interrupted_error)
