"""The reconciler: deadline-driven expiry plus periodic full passes.

While this process leads (see :mod:`.leader`), two kinds of task run:

* the **deadline task** sleeps on one :class:`DeadlineQueue` keyed by
  ``(kind, lease id)`` until the earliest ``expires_at`` and hands what is due
  to that kind's :class:`~moorage.reconciler.keeper.LeaseKeeper`; lateness
  (release time minus deadline) is recorded per kind;
* the **pass task** runs :meth:`Reconciler.reconcile_once` at start-up and
  every ``interval_seconds``: each keeper's full pass, which also refreshes the
  queue from the database (so extensions made by other replicas count);
  other periodic **jobs** (machine probes) run on their own intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.observability.metrics import EXPIRY_LATENESS, RECLAIM_LATENESS
from moorage.reconciler.deadlines import DeadlineQueue
from moorage.reconciler.keeper import LeaseKeeper
from moorage.reconciler.leader import heartbeat, try_lead

__all__ = ["Reconciler", "percentile"]

log = logging.getLogger(__name__)

DeadlineKey = tuple[str, str]


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by nearest rank, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class _Job:
    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[None]]


class Reconciler:
    """Keeps every runtime in line with the database.

    Args:
        sessionmaker: opens database sessions.
        instance_id: this process's id, for heartbeats and leadership.
        interval_seconds: period of the full pass.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        instance_id: str,
        interval_seconds: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._instance_id = instance_id
        self._interval = interval_seconds
        self._clock = clock
        self.queue: DeadlineQueue[DeadlineKey] = DeadlineQueue(clock)
        self.keepers: dict[str, LeaseKeeper] = {}
        self.lateness_seconds: dict[str, deque[float]] = {}
        self.is_leader = False
        self.passes = 0
        self._jobs: list[_Job] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._expiring: dict[DeadlineKey, asyncio.Task[None]] = {}

    def add_keeper(self, keeper: LeaseKeeper) -> None:
        """Keep leases of ``keeper.kind``."""
        self.keepers[keeper.kind] = keeper
        self.lateness_seconds[keeper.kind] = deque(maxlen=1000)

    def add_job(
        self, name: str, interval_seconds: float, run: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``run()`` every ``interval_seconds`` while leading (failures are logged)."""
        self._jobs.append(_Job(name, interval_seconds, run))

    def deadline_listener(self, kind: str) -> Callable[[str, datetime | None], None]:
        """A callback for services: ``(lease_id, expires_at)`` schedules, ``None`` cancels."""

        def listener(lease_id: str, expires_at: datetime | None) -> None:
            if expires_at is None:
                self.queue.cancel((kind, lease_id))
            else:
                self.queue.schedule((kind, lease_id), expires_at)

        return listener

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Run the first full pass, then start the background tasks."""
        await self._tick()
        self._tasks = [
            asyncio.create_task(self._pass_loop(), name="reconciler-pass"),
            asyncio.create_task(self._deadline_loop(), name="reconciler-deadlines"),
        ]
        for job in self._jobs:
            self._tasks.append(asyncio.create_task(self._job_loop(job), name=f"job-{job.name}"))

    async def stop(self) -> None:
        """Cancel the background tasks and wait for them."""
        tasks = [*self._tasks, *self._expiring.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def status(self) -> dict[str, object]:
        """Figures for operators: leadership, queue size, expiry lateness (seconds) per kind."""
        lateness = {}
        for kind, values in self.lateness_seconds.items():
            late = list(values)
            lateness[kind] = {
                "count": len(late),
                "p50": percentile(late, 50),
                "p99": percentile(late, 99),
                "max": max(late) if late else None,
            }
        return {
            "leader": self.is_leader,
            "instance": self._instance_id,
            "passes": self.passes,
            "queued_deadlines": len(self.queue),
            "expiry_lateness_seconds": lateness,
        }

    # -- loops -------------------------------------------------------------

    async def _pass_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._tick()

    async def _tick(self) -> None:
        try:
            now = self._clock()
            await heartbeat(self._sessionmaker, self._instance_id, now)
            leading = await try_lead(
                self._sessionmaker,
                "reconciler",
                self._instance_id,
                now,
                ttl_seconds=self._interval * 3,
            )
            if leading != self.is_leader:
                log.info("reconciler %s leadership", "took" if leading else "lost")
            self.is_leader = leading
            if leading:
                await self.reconcile_once()
        except Exception:
            # A bug or a database hiccup must not stop the loop; the next pass retries.
            log.exception("reconcile pass failed")

    async def reconcile_once(self) -> None:
        """Each keeper's full pass (a failing keeper does not stop the others)."""
        self.passes += 1
        for kind, keeper in self.keepers.items():
            try:
                await keeper.reconcile(functools.partial(self._schedule, kind))
            except Exception:
                log.exception("%s pass failed", kind)

    async def pass_now(self) -> bool:
        """One full pass now, then expire every lease already due and wait for it
        (what the pass and deadline tasks would do next), for an operator who asks
        (Winux's ``POST /api/winux/cleanup``).

        Returns:
            True when done; False when this process does not lead (the leader's
            reconciler acts; nothing was done here).
        """
        if not self.is_leader:
            return False
        await self.reconcile_once()
        for key, deadline in self.queue.pop_due():
            if key not in self._expiring:
                task = asyncio.create_task(self._expire(key, deadline))
                self._expiring[key] = task
                task.add_done_callback(functools.partial(self._expired, key))
        await asyncio.gather(*self._expiring.values(), return_exceptions=True)
        return True

    def _schedule(self, kind: str, lease_id: str, at: datetime) -> None:
        self.queue.schedule((kind, lease_id), at)

    async def _job_loop(self, job: _Job) -> None:
        while True:
            if self.is_leader:
                try:
                    await job.run()
                except Exception:
                    log.exception("job %s failed", job.name)
            await asyncio.sleep(job.interval_seconds)

    async def _deadline_loop(self) -> None:
        while True:
            due = await self.queue.wait_due()
            if not self.is_leader:
                continue  # the leader's own queue releases them
            for key, deadline in due:
                if key in self._expiring:
                    continue
                task = asyncio.create_task(self._expire(key, deadline))
                self._expiring[key] = task
                task.add_done_callback(functools.partial(self._expired, key))

    def _expired(self, key: DeadlineKey, _task: asyncio.Task[None]) -> None:
        self._expiring.pop(key, None)

    async def _expire(self, key: DeadlineKey, deadline: datetime) -> None:
        kind, lease_id = key
        started = time.monotonic()
        acted = (self._clock() - deadline).total_seconds()
        try:
            released = await self.keepers[kind].expire(lease_id, deadline)
            if released:
                lateness = (self._clock() - deadline).total_seconds()
                self.lateness_seconds[kind].append(lateness)
                EXPIRY_LATENESS.labels(kind).observe(max(0.0, acted))
                RECLAIM_LATENESS.labels(kind).observe(max(0.0, lateness))
                log.info(
                    "%s %s expired; released %.3f s after its deadline (%.3f s of work)",
                    kind,
                    lease_id,
                    lateness,
                    time.monotonic() - started,
                )
        except Exception:
            log.exception("expiring %s %s failed; the next pass retries", kind, lease_id)
