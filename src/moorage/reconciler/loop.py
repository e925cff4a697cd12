"""The reconciler: deadline-driven expiry plus a periodic full pass.

Two tasks run while this process leads:

* the **deadline task** sleeps on a :class:`DeadlineQueue` until the earliest
  ``expires_at`` and releases what is due; lateness (release time minus
  deadline) is recorded;
* the **pass task** runs :meth:`Reconciler.reconcile_once` at start-up and
  every ``interval_seconds``: it refreshes the queue from the database (so
  extensions made by other replicas count), removes containers labelled
  ``moorage.session`` that no live session owns (only those whose
  ``moorage.org`` is one of this installation's orgs: several installations
  may share an engine), fails live sessions whose
  container vanished, fails launches cut off by a crash, and retries
  releases that Docker refused.

Each environment that cannot be reached is logged once when it goes down and
once when it comes back; its sessions are retried on every pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.drivers.base import WorkspaceContainer
from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.org import Org
from moorage.models.session import WorkspaceSession
from moorage.reconciler.deadlines import DeadlineQueue
from moorage.reconciler.leader import alive_instances, heartbeat, try_lead
from moorage.services.sessions import ORG_LABEL, SESSION_LABEL, SessionService

__all__ = ["Reconciler", "percentile"]

log = logging.getLogger(__name__)

RUNNING_STATES = {"created", "running", "restarting", "paused"}


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) by nearest rank, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Reconciler:
    """Keeps Docker in line with the database.

    Args:
        sessionmaker: opens database sessions.
        drivers: the per-environment drivers.
        sessions: the session service whose release and fail it calls.
        instance_id: this process's id, for heartbeats and leadership.
        interval_seconds: period of the full pass.
        instance_ttl_seconds: heartbeat age after which an instance is dead.
        exclusive: True when no other instance can share the database (SQLite,
            guarded by the data-directory lock): every other instance is dead.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        sessions: SessionService,
        *,
        instance_id: str,
        interval_seconds: float = 5.0,
        instance_ttl_seconds: float = 15.0,
        launch_timeout_seconds: float = 60.0,
        exclusive: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._drivers = drivers
        self._sessions = sessions
        self._instance_id = instance_id
        self._interval = interval_seconds
        self._instance_ttl = instance_ttl_seconds
        self._launch_timeout = launch_timeout_seconds
        self._exclusive = exclusive
        self._clock = clock
        self.queue: DeadlineQueue[str] = DeadlineQueue(clock)
        self.lateness_seconds: deque[float] = deque(maxlen=1000)
        self.is_leader = False
        self.passes = 0
        self._down: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._releasing: set[str] = set()
        self._expiring: set[asyncio.Task[None]] = set()
        sessions.add_deadline_listener(self._on_deadline)

    def _on_deadline(self, session_id: str, expires_at: datetime | None) -> None:
        if expires_at is None:
            self.queue.cancel(session_id)
        else:
            self.queue.schedule(session_id, expires_at)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Run the first full pass, then start the background tasks."""
        await self._tick()
        self._tasks = [
            asyncio.create_task(self._pass_loop(), name="reconciler-pass"),
            asyncio.create_task(self._deadline_loop(), name="reconciler-deadlines"),
        ]

    async def stop(self) -> None:
        """Cancel the background tasks and wait for them."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def status(self) -> dict[str, object]:
        """Figures for operators: leadership, queue size, expiry lateness (seconds)."""
        late = list(self.lateness_seconds)
        return {
            "leader": self.is_leader,
            "instance": self._instance_id,
            "passes": self.passes,
            "queued_deadlines": len(self.queue),
            "unreachable_environments": sorted(self._down),
            "expiry_lateness_seconds": {
                "count": len(late),
                "p50": percentile(late, 50),
                "p99": percentile(late, 99),
                "max": max(late) if late else None,
            },
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

    async def _deadline_loop(self) -> None:
        while True:
            due = await self.queue.wait_due()
            if not self.is_leader:
                continue  # the leader's own queue releases them
            for session_id, deadline in due:
                task = asyncio.create_task(self._expire(session_id, deadline))
                self._expiring.add(task)
                task.add_done_callback(self._expiring.discard)

    async def _expire(self, session_id: str, deadline: datetime) -> None:
        if session_id in self._releasing:
            return
        self._releasing.add(session_id)
        started = time.monotonic()
        try:
            async with self._sessionmaker() as db:
                session = await db.get(WorkspaceSession, session_id, populate_existing=True)
                if session is None or session.state != LeaseState.READY.value:
                    return
                if session.expires_at > self._clock():
                    self.queue.schedule(session_id, session.expires_at)  # extended elsewhere
                    return
            done = await self._sessions.release_by_id(session_id, reason=None)
            if done:
                lateness = (self._clock() - deadline).total_seconds()
                self.lateness_seconds.append(lateness)
                log.info(
                    "session %s expired; released %.3f s after its deadline (%.3f s of work)",
                    session_id,
                    lateness,
                    time.monotonic() - started,
                )
        except Exception:
            log.exception("expiring session %s failed; the next pass retries", session_id)
        finally:
            self._releasing.discard(session_id)

    # -- the full pass -----------------------------------------------------

    async def reconcile_once(self) -> None:
        """Compare the database with every environment and repair both ways."""
        self.passes += 1
        async with self._sessionmaker() as db:
            environments = list(await db.scalars(select(Environment)))
        for environment in environments:
            await self._reconcile_environment(environment)

    async def _reconcile_environment(self, environment: Environment) -> None:
        driver = self._drivers.get(environment)
        try:
            containers = await driver.list_workspaces(SESSION_LABEL)
        except MoorageError as exc:
            if environment.id not in self._down:
                self._down.add(environment.id)
                log.warning("environment %s is unreachable: %s", environment.name, exc.message)
            await self._queue_deadlines(environment)  # deadlines still fire and retry
            return
        if environment.id in self._down:
            self._down.discard(environment.id)
            log.info("environment %s is reachable again", environment.name)

        # Rows are read after the containers are listed: a launch commits its row
        # before it creates the container, so every listed container's row is visible.
        now = self._clock()
        async with self._sessionmaker() as db:
            live = list(
                await db.scalars(
                    select(WorkspaceSession).where(
                        WorkspaceSession.environment_id == environment.id,
                        WorkspaceSession.state.in_(LIVE_STATES),
                    )
                )
            )
            alive = await alive_instances(db, now, self._instance_ttl)
            our_orgs = set(await db.scalars(select(Org.id)))
        live_by_id = {session.id: session for session in live}
        by_session: dict[str, WorkspaceContainer] = {}
        for container in containers:
            if container.labels.get(ORG_LABEL) not in our_orgs:
                continue  # another Moorage installation sharing this engine owns it
            owner = container.labels.get(SESSION_LABEL, "")
            if owner not in live_by_id:
                await self._remove_orphan(driver, container)
            else:
                by_session[owner] = container

        for session in live:
            found = by_session.get(session.id)
            state = LeaseState(session.state)
            if state == LeaseState.READY:
                if found is None:
                    await self._sessions.fail(session.id, "the container vanished")
                elif found.state not in RUNNING_STATES:
                    await self._sessions.fail(session.id, f"the container {found.state}")
                else:
                    self.queue.schedule(session.id, session.expires_at)
            elif state in (LeaseState.PROVISIONING, LeaseState.PENDING):
                if self._launch_was_cut_off(session, alive, now):
                    log.warning("session %s: its launch was cut off; failing it", session.id)
                    if found is not None and session.container_id is None:
                        await self._remove_orphan(driver, found)
                    await self._sessions.fail(session.id, "the launch was interrupted")
            elif state == LeaseState.RELEASING and session.id not in self._releasing:
                await self._sessions.release_by_id(session.id)

    def _launch_was_cut_off(
        self, session: WorkspaceSession, alive: set[str], now: datetime
    ) -> bool:
        if session.instance_id is None or (
            session.instance_id != self._instance_id
            and (self._exclusive or session.instance_id not in alive)
        ):
            return True
        age = now - session.created_at
        return age > timedelta(seconds=self._launch_timeout * 2)

    async def _queue_deadlines(self, environment: Environment) -> None:
        async with self._sessionmaker() as db:
            rows = await db.execute(
                select(WorkspaceSession.id, WorkspaceSession.expires_at).where(
                    WorkspaceSession.environment_id == environment.id,
                    WorkspaceSession.state == LeaseState.READY.value,
                )
            )
            for session_id, expires_at in rows:
                self.queue.schedule(session_id, expires_at)

    async def _remove_orphan(self, driver, container: WorkspaceContainer) -> None:
        log.info(
            "removing orphan container %s (session %s)",
            container.name,
            container.labels.get(SESSION_LABEL),
        )
        try:
            await driver.remove(container.id)
        except MoorageError as exc:
            log.warning("could not remove orphan %s: %s", container.name, exc.message)
