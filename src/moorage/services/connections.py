"""Who is connected to a session now: the registry of this process's live gateway
connections, each with who it is and the role it holds.

Every websocket the gateway serves for a session (terminal, desktop, a web app's
websocket) is tracked here for its lifetime (:meth:`ConnectionRegistry.track`), and
its opening and closing are audited (``session.connect``, ``session.disconnect``).
The session page lists them ("connected now"); the owner can end one
(:meth:`ConnectionRegistry.end_where`), and revoking a share link ends every
connection opened with it at once.

Ending a connection sets its :class:`LiveConnection` ``open`` to False at once (the
gateway forwards nothing more from it) and wakes :meth:`LiveConnection.wait_ended`,
on which the gateway closes the websocket with :attr:`LiveConnection.close_code`.

Connections held through a share link are also re-checked by a watchdog: at the
link's expiry, and every :data:`RECHECK_SECONDS`, so that a link revoked by another
server process (or an expiry) ends them too. The registry is per process: with
several server processes each lists and ends its own connections, and the watchdog
covers revocations made elsewhere within :data:`RECHECK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.services.audit import record

__all__ = [
    "CLOSE_DISCONNECTED",
    "CLOSE_SESSION_ENDED",
    "CLOSE_SHARE_ENDED",
    "RECHECK_SECONDS",
    "ConnectionRegistry",
    "LiveConnection",
    "Recheck",
]

log = logging.getLogger(__name__)

RECHECK_SECONDS = 5.0
"""How often a connection held through a share link asks whether its grant still holds."""

CLOSE_SHARE_ENDED = (4410, "the share link was revoked or has expired")
CLOSE_DISCONNECTED = (4408, "the session's owner disconnected you")
CLOSE_SESSION_ENDED = (4409, "the session ended")

Recheck = Callable[[], Awaitable[datetime | None]]
"""Asked by a share connection's watchdog: the grant's expiry (UTC) while it holds,
None once it does not (revoked, expired, ended by the owner)."""


@dataclass(eq=False)
class LiveConnection:
    """One websocket of one person in one session.

    ``role`` is ``owner`` (the session's owner), ``admin`` (an admin of its org),
    ``peer`` or ``observer`` (through a share link). ``who`` is the username, or the
    display name a guest gave; ``guest`` is True for connections through a share link.
    """

    session_id: str
    org_id: str
    kind: str
    """``terminal``, ``desktop`` or ``app`` (a web app's websocket)."""
    who: str
    role: str
    actor: str = ""
    """Who the audit log names: the username, else ``guest <display name>``."""
    user_id: str | None = None
    link_id: str | None = None
    grant_id: str | None = None
    source: str | None = None
    id: str = field(default_factory=new_id)
    since: datetime = field(default_factory=utcnow)
    close_code: int = 1000
    close_reason: str = ""
    _ended: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def guest(self) -> bool:
        return self.grant_id is not None

    @property
    def open(self) -> bool:
        """False once the connection was ended: forward nothing more from it."""
        return not self._ended.is_set()

    def end(self, code: int, reason: str) -> None:
        """End the connection (idempotent: the first reason is kept)."""
        if self._ended.is_set():
            return
        self.close_code, self.close_reason = code, reason
        self._ended.set()

    async def wait_ended(self) -> None:
        """Return once :meth:`end` was called."""
        await self._ended.wait()


class ConnectionRegistry:
    """This process's live gateway connections, per session.

    Args:
        sessionmaker: for the audit events.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._recheck_seconds = recheck_seconds
        self._live: dict[str, LiveConnection] = {}

    @contextlib.asynccontextmanager
    async def track(
        self, connection: LiveConnection, recheck: Recheck | None = None
    ) -> AsyncIterator[LiveConnection]:
        """Register ``connection`` for the ``async with`` block; audited when it opens
        and when it closes. With ``recheck`` (share-link connections), a watchdog ends
        the connection (:data:`CLOSE_SHARE_ENDED`) once ``recheck`` returns None."""
        await self._audit(connection, "session.connect")
        self._live[connection.id] = connection
        watchdog = (
            asyncio.create_task(self._watch(connection, recheck), name=f"share {connection.id}")
            if recheck is not None
            else None
        )
        try:
            yield connection
        finally:
            connection.end(1000, "")
            self._live.pop(connection.id, None)
            if watchdog is not None:
                watchdog.cancel()
            await asyncio.shield(self._audit(connection, "session.disconnect"))

    def of_session(self, session_id: str) -> list[LiveConnection]:
        """The live connections of ``session_id``, oldest first."""
        found = [c for c in self._live.values() if c.session_id == session_id and c.open]
        return sorted(found, key=lambda c: c.since)

    def get(self, connection_id: str) -> LiveConnection | None:
        connection = self._live.get(connection_id)
        return connection if connection is not None and connection.open else None

    def end_where(
        self, matches: Callable[[LiveConnection], bool], code: int, reason: str
    ) -> list[LiveConnection]:
        """End every live connection ``matches`` accepts; returns them."""
        ended = [c for c in list(self._live.values()) if c.open and matches(c)]
        for connection in ended:
            connection.end(code, reason)
        return ended

    def deadline_changed(self, session_id: str, expires_at: datetime | None) -> None:
        """A :data:`~moorage.services.leases.DeadlineListener`: a session that ended
        (None) loses every connection at once."""
        if expires_at is None:
            self.end_where(lambda c: c.session_id == session_id, *CLOSE_SESSION_ENDED)

    async def _watch(self, connection: LiveConnection, recheck: Recheck) -> None:
        while connection.open:
            try:
                expires_at = await recheck()
            except Exception:
                log.exception("share connection %s: cannot check its grant", connection.id)
                expires_at = self._clock()
            if expires_at is None or expires_at <= self._clock():
                connection.end(*CLOSE_SHARE_ENDED)
                return
            delay = (expires_at - self._clock()).total_seconds()
            await asyncio.sleep(max(0.05, min(delay, self._recheck_seconds)))

    async def _audit(self, connection: LiveConnection, action: str) -> None:
        via = f" through share link {connection.link_id}" if connection.link_id else ""
        detail = f"{connection.kind} as {connection.role}{via}"
        if action == "session.disconnect" and connection.close_reason:
            detail += f" ({connection.close_reason})"
        actor = connection.actor or (
            f"guest {connection.who}" if connection.guest else connection.who
        )
        try:
            async with write_session(self._sessionmaker) as db:
                record(
                    db,
                    connection.org_id,
                    actor,
                    action,
                    "session",
                    connection.session_id,
                    detail=detail,
                    source=connection.source,
                )
        except Exception as exc:  # the database going away as the server stops, mostly
            log.warning("could not audit %s of session %s: %r", action, connection.session_id, exc)
