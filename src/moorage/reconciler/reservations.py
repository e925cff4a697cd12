"""The reconciler's keeper of reservations and the machine prober."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.machines import MachineConnector
from moorage.errors import MoorageError
from moorage.models.machine import Machine, MachineStatus
from moorage.models.reservation import Reservation
from moorage.reconciler.keeper import Schedule, ServiceKeeper
from moorage.security.crypto import Keyring
from moorage.services.machines import address_of
from moorage.services.reservations import ReservationService

__all__ = ["MachineProber", "ReservationKeeper"]

log = logging.getLogger(__name__)


class ReservationKeeper(ServiceKeeper[Reservation]):
    """Schedules ready reservations, retries unfinished releases, fails
    reservations whose making was cut off by a crash, and retries the clean-up
    of accounts left behind on dirty machines."""

    kind = "reservation"
    interrupted_error = "the reservation was interrupted"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        reservations: ReservationService,
        *,
        instance_id: str,
        instance_ttl_seconds: float,
        provision_timeout_seconds: float,
        exclusive: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            sessionmaker,
            reservations,
            instance_id=instance_id,
            instance_ttl_seconds=instance_ttl_seconds,
            provision_timeout_seconds=provision_timeout_seconds,
            exclusive=exclusive,
            clock=clock,
        )
        self._reservations = reservations

    async def reconcile(self, schedule: Schedule) -> None:
        live, alive, now = await self.live_leases()
        for reservation in live:
            await self.keep(reservation, schedule, alive=alive, now=now)
        await self._reservations.clean_up()


class MachineProber:
    """Probes every machine not in maintenance over SSH, concurrently, and records
    ``online``/``offline`` with the last error and probe time. A ``dirty`` machine
    stays dirty until its clean-up succeeds. The first host key seen is pinned."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        connector: MachineConnector,
        keyring: Keyring,
        *,
        concurrency: int = 20,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._connector = connector
        self._keyring = keyring
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock

    async def run(self) -> None:
        """Probe all machines once."""
        async with self._sessionmaker() as db:
            machines = list(
                await db.scalars(
                    select(Machine).where(Machine.status != MachineStatus.MAINTENANCE.value)
                )
            )
        await asyncio.gather(*(self.probe(machine) for machine in machines))

    async def probe(self, machine: Machine) -> str:
        """Probe one machine and store the result; returns its new status."""
        error: str | None = None
        host_key: str | None = None
        async with self._slots:
            try:
                result = await self._connector.probe(address_of(machine, self._keyring))
                host_key = result.host_key
            except MoorageError as exc:
                error = exc.message
        async with write_session(self._sessionmaker) as db:
            row = await db.get(Machine, machine.id, with_for_update={"of": Machine})
            if row is None:
                return MachineStatus.UNKNOWN.value
            row.last_probe_at = self._clock()
            if row.host_key is None and host_key:
                row.host_key = host_key
            if row.status == MachineStatus.DIRTY.value:
                # last_error keeps saying why it is dirty (the failed clean-up), which
                # is what an operator must act on; the clean-up retry clears it.
                if error:
                    log.info("dirty machine %s is still unreachable: %s", row.name, error)
                return row.status
            if row.status == MachineStatus.MAINTENANCE.value:
                if error:
                    row.last_error = error
                return row.status
            status = MachineStatus.OFFLINE.value if error else MachineStatus.ONLINE.value
            if status != row.status:
                log.info("machine %s is %s%s", row.name, status, f": {error}" if error else "")
            row.status = status
            row.last_error = error
            return status
