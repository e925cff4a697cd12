"""Activity: what a person does in a session, for its idle timeout.

What counts (each entry point calls :meth:`Activity.touch`):

* input through the gateway: keys in a terminal (browser terminal of ``terminal``
  and ``ssh`` workspaces), key, pointer and clipboard messages of a desktop
  (not noVNC's own framebuffer requests);
* requests to a web app (``/s/<id>/…``) whose path matches none of the template's
  ``idle_ignore_paths`` (regular expressions, searched in the path and query: an
  app's own polling, e.g. Jupyter's ``/api/kernels`` and ``/api/sessions`` status
  requests), and messages a browser sends on the app's websockets;
* "keep it" on the session page (:meth:`Activity.keep`);
* busy CPU: the reconciler's idle pass (:mod:`moorage.reconciler.idle`) samples the
  container of a session that looks idle and counts CPU use above the template's
  ``idle_cpu_percent`` as activity, so a long computation is not idle;
* for ``ssh`` workspaces, input on an SSH login's terminal inside the container
  (a native client's channel with data), read by the same pass.

A connected but untouched tab is idle: output, the terminal's replay and noVNC's
update requests are not activity.

Touches are kept in memory (a dict write: cheap on the gateway's hot path) and
written to the session row (``last_activity_at``) every few seconds by
:meth:`Activity.flush`, so the reconciler of any process sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template

__all__ = ["Activity", "ignored_path"]

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error:
            log.warning("idle_ignore_paths: %r is not a regular expression; ignored", pattern)
    return tuple(compiled)


def ignored_path(template: Template, path: str) -> bool:
    """True when ``path`` (with its query) matches one of the template's
    ``idle_ignore_paths``: the app's own polling, not a person."""
    patterns = template.idle_ignore_paths
    if not patterns:
        return False
    return any(p.search(path) for p in _compiled(tuple(patterns)))


class Activity:
    """The last activity of each session, in memory until flushed to its row.

    Args:
        sessionmaker: opens database sessions.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._pending: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def touch(self, session_id: str, at: datetime | None = None) -> None:
        """A person did something in ``session_id`` now (or ``at``). Synchronous and cheap."""
        at = at or self._clock()
        newer = self._pending.get(session_id)
        self._pending[session_id] = max(at, newer) if newer else at

    def request(self, session: WorkspaceSession, path: str) -> None:
        """A request to the session's web app at ``path`` (with its query): activity
        unless the template ignores that path."""
        if not ignored_path(session.template, path):
            self.touch(session.id)

    def last(self, session_id: str) -> datetime | None:
        """The latest touch not yet written, if any."""
        return self._pending.get(session_id)

    def idle_since(self, session: WorkspaceSession) -> datetime:
        """Since when ``session`` has been idle: its last activity (written or still
        pending here), else its start (UTC)."""
        times = [session.starts_at, session.last_activity_at, self._pending.get(session.id)]
        return max(t for t in times if t is not None)

    async def flush(self) -> None:
        """Write the pending touches to their rows (never moving one back)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            async with write_session(self._sessionmaker) as db:
                for session_id, at in pending.items():
                    await db.execute(
                        update(WorkspaceSession)
                        .where(
                            WorkspaceSession.id == session_id,
                            or_(
                                WorkspaceSession.last_activity_at.is_(None),
                                WorkspaceSession.last_activity_at < at,
                            ),
                        )
                        .values(last_activity_at=at)
                        .execution_options(synchronize_session=False)
                    )
        except BaseException:
            for session_id, at in pending.items():  # kept for the next flush
                newer = self._pending.get(session_id)
                self._pending[session_id] = max(at, newer) if newer else at
            raise

    async def mark(self, session_id: str, at: datetime | None = None) -> None:
        """Record activity of ``session_id`` now (or ``at``), written at once (the
        reconciler's CPU and terminal verdicts, "keep it")."""
        self.touch(session_id, at)
        await self.flush()

    # -- the flush loop ----------------------------------------------------------------

    def start(self, interval_seconds: float) -> None:
        """Flush every ``interval_seconds`` until :meth:`stop`."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_seconds)
                try:
                    await self.flush()
                except Exception:
                    log.exception("writing session activity failed; retried next time")

        self._task = asyncio.get_running_loop().create_task(loop(), name="activity-flush")

    async def stop(self) -> None:
        """Stop the loop and write what is pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()
