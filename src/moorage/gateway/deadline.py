"""Access ends at the deadline: every workspace connection is bounded by its session's
``expires_at``, by a timer of its own, not by the reconciler's release.

A connection is refused once the deadline has passed (:func:`refuse_if_past`, 4409
on websockets), even while the session still reads ``ready`` because the reconciler
has not released it yet; an open one is closed the moment the deadline passes
(:func:`until_deadline`), unless the session was extended meanwhile (the row is read
again when the timer fires, so extensions made by another server process count).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import WebSocket

from moorage.db.base import utcnow
from moorage.errors import Conflict
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.observability.metrics import GATEWAY_CONNECTIONS
from moorage.services.sessions import SessionService

__all__ = [
    "CLOSE_DEADLINE",
    "refuse_if_past",
    "reloader",
    "serve_until_deadline",
    "until_deadline",
]

CLOSE_DEADLINE = (4409, "the session has ended")
"""Close code and reason of a websocket whose session's deadline passed."""

Reload = Callable[[], Awaitable[WorkspaceSession | None]]
"""Reads the session again (None when it is gone or the caller lost sight of it)."""


def reloader(sessions: SessionService, session_id: str) -> Reload:
    """A :data:`Reload` reading the session as committed now (whoever it was opened
    for: the connection was admitted already, as owner, admin or share guest)."""

    async def reload() -> WorkspaceSession | None:
        return await sessions.current(session_id)

    return reload


def refuse_if_past(session: WorkspaceSession, now: datetime | None = None) -> None:
    """Refuse a new connection to ``session`` once its deadline has passed.

    Raises:
        Conflict: past ``expires_at`` (code ``session_not_ready``, 409 / 4409).
    """
    if session.expires_at <= (now or utcnow()):
        raise Conflict("the session has ended", code="session_not_ready")


async def until_deadline(
    expires_at: datetime, reload: Reload, *, clock: Callable[[], datetime] = utcnow
) -> None:
    """Return once the deadline passed and the session was not extended (or ended)."""
    while True:
        delay = (expires_at - clock()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        session = await reload()
        if session is None or session.state not in (
            LeaseState.READY.value,
            LeaseState.STOPPED.value,
        ):
            return
        if session.expires_at <= clock():
            return
        expires_at = session.expires_at


async def serve_until_deadline(
    websocket: WebSocket,
    kind: str,
    session: WorkspaceSession,
    reload: Reload,
    serve: Awaitable[None],
) -> None:
    """Run ``serve`` (the connection's bridge) until it ends or the session's deadline
    passes, whichever comes first; at the deadline the websocket is closed with
    :data:`CLOSE_DEADLINE`. Counted in ``moorage_gateway_connections{kind}``."""
    GATEWAY_CONNECTIONS.labels(kind).inc()
    work = asyncio.ensure_future(serve)
    timer = asyncio.create_task(until_deadline(session.expires_at, reload))
    try:
        await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            work.result()  # the bridge's own end, or its error for the caller
            return
        work.cancel()
        with contextlib.suppress(Exception):
            await websocket.close(code=CLOSE_DEADLINE[0], reason=CLOSE_DEADLINE[1])
    finally:
        GATEWAY_CONNECTIONS.labels(kind).dec()
        for task in (work, timer):
            task.cancel()
        for task in (work, timer):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
