"""The idle pass: end ready sessions whose template's idle timeout has passed
without activity (``end_reason`` ``idle``), unless their container is busy.

Activity is counted where it happens (:mod:`moorage.services.activity`); what
cannot be seen passing is asked here, only of sessions that look idle (idle for
half their timeout, or :data:`CPU_CHECK_AFTER_SECONDS`, whichever is shorter), so
a busy fleet is not sampled on every pass:

* the container's CPU (``docker stats``): above the template's ``idle_cpu_percent``
  a long computation is running, which is activity;
* for ``ssh`` workspaces, whose native SSH clients reach the container directly,
  the last input on its terminals (``/dev/pts`` access times): an SSH channel with
  data is activity.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template, TemplateKind
from moorage.services.sessions import SessionService

__all__ = ["CPU_CHECK_AFTER_SECONDS", "IdleSessions"]

log = logging.getLogger(__name__)

CPU_CHECK_AFTER_SECONDS = 60.0
"""Idle this long (or half the timeout, when shorter) before the CPU is sampled."""
PARALLEL_SAMPLES = 8


class IdleSessions:
    """The idle pass (a reconciler job, run by the leader).

    Args:
        sessionmaker: opens database sessions.
        drivers: the per-environment drivers (CPU samples).
        sessions: ends idle sessions; its ``activity`` is flushed first and told of
            busy containers.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        sessions: SessionService,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._drivers = drivers
        self._sessions = sessions
        self._clock = clock
        self._limit = asyncio.Semaphore(PARALLEL_SAMPLES)

    async def run(self) -> None:
        """One pass (the job)."""
        await self.pass_once()

    async def pass_once(self) -> int:
        """One pass; returns how many sessions were ended."""
        activity = self._sessions.activity
        await activity.flush()
        async with self._sessionmaker() as db:
            rows = list(
                await db.scalars(
                    select(WorkspaceSession)
                    .join(Template, WorkspaceSession.template_id == Template.id)
                    .where(
                        WorkspaceSession.state == LeaseState.READY.value,
                        Template.idle_timeout_seconds.is_not(None),
                        Template.idle_timeout_seconds > 0,
                    )
                )
            )
        results = await asyncio.gather(*(self._check(session) for session in rows))
        return sum(results)

    async def _check(self, session: WorkspaceSession) -> bool:
        timeout = float(session.template.idle_timeout_seconds or 0)
        idle_seconds = (self._clock() - self._sessions.activity.idle_since(session)).total_seconds()
        if idle_seconds < min(timeout / 2, CPU_CHECK_AFTER_SECONDS):
            return False
        if await self._busy(session):
            await self._sessions.activity.mark(session.id)
            return False
        typed = await self._ssh_input(session)
        if typed is not None and typed > self._sessions.activity.idle_since(session):
            await self._sessions.activity.mark(session.id, typed)
            idle_seconds = (self._clock() - typed).total_seconds()
        if idle_seconds < timeout:
            return False
        log.info("session %s idle for %.0f s (timeout %.0f s)", session.id, idle_seconds, timeout)
        await self._sessions.end_idle(session.id)
        return True

    async def _ssh_input(self, session: WorkspaceSession) -> datetime | None:
        """The last terminal input in an ``ssh`` workspace (None for other kinds)."""
        if session.template.kind != TemplateKind.SSH.value or not session.container_id:
            return None
        async with self._limit:
            try:
                driver = self._drivers.get(session.environment)
                return await driver.tty_input_at(session.container_id)
            except MoorageError as exc:
                log.warning("session %s: cannot read its terminals: %s", session.id, exc.message)
                return None

    async def _busy(self, session: WorkspaceSession) -> bool:
        """True when the container's CPU is above the template's threshold. An
        unreachable engine counts as busy: nobody is ended for Docker's outage."""
        if not session.container_id:
            return False
        async with self._limit:
            try:
                driver = self._drivers.get(session.environment)
                cpu = await driver.cpu_percent(session.container_id)
            except MoorageError as exc:
                log.warning("session %s: cannot sample its CPU: %s", session.id, exc.message)
                return True
        return cpu is not None and cpu >= session.template.idle_cpu_percent
