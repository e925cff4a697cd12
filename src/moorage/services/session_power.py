"""Stopping a session and starting it again (Flowcase's stop and start).

``ready → stopped``: the container is stopped and kept with its disk (its
writable layer), so what the user wrote is there when it starts again. The
lease's deadline still runs: a stopped session is reclaimed at its deadline
like a ready one (its container removed). A stopped session counts against
quotas of sessions (:data:`~moorage.models.lease.LIVE_STATES`); it holds no
CPU or memory, so CPU and memory quotas, when they come, must not count it.

``stopped → ready``: the container is started again, given its secret again
(its tmpfs is empty after a stop), and waited for exactly as at launch (its
kind's readiness check); the session keeps its account and secret, and its
published ports are read again (the engine may publish them on other host
ports after a restart).

Neither holds a database transaction across a Docker call:

* stop marks the row ``stopped`` first, then stops the container; if Docker
  refuses, the row goes back to ``ready`` (the container still runs);
* start leaves the row ``stopped`` while the container starts and is probed,
  then marks it ``ready``; if it does not become usable it is stopped again
  and the row stays ``stopped``.

So the reconciler never sees a ``ready`` row whose container is being stopped,
and accepts a ``stopped`` row's container in any state while it exists.
"""

from __future__ import annotations

import asyncio
import logging

from moorage.db.engine import write_session
from moorage.drivers.base import ContainerDriver
from moorage.drivers.pool import DriverPool
from moorage.errors import Conflict, MoorageError, NotFound, QuotaExceeded, RuntimeUnavailable
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.user import User
from moorage.security.crypto import Keyring
from moorage.services import quotas
from moorage.services.kinds import StartedWorkspace, kind_for
from moorage.services.leases import LeaseService, transition

__all__ = ["SECRET_CONTEXT", "SessionPower"]

log = logging.getLogger(__name__)

SECRET_CONTEXT = "session.password"
"""Keyring context of the sessions' secrets (workspace account or VNC password)."""


class SessionPower(LeaseService[WorkspaceSession]):
    """:meth:`stop` and :meth:`start` of :class:`~moorage.services.sessions.SessionService`,
    which sets the attributes below in its ``__init__``."""

    _drivers: DriverPool
    _keyring: Keyring
    _launch_timeout: float
    _publish_address: str

    async def stop(
        self, user: User, session_id: str, *, source: str | None = None
    ) -> WorkspaceSession:
        """Stop a ready session's container, keeping its disk; its deadline still runs.
        Audited as ``session.stop`` from the client address ``source``. Allowed to
        whoever may end the session (its owner; admins).

        Returns:
            The session, ``stopped``.

        Raises:
            NotFound: no such session, or ``user`` may not see it (404).
            Conflict: the session is not ``ready`` (409, code ``session_not_ready``).
            RuntimeUnavailable: Docker could not stop it (503); the session stays
                ``ready``.
        """
        async with write_session(self._sessionmaker) as db:
            session = await self._visible(db, user, session_id, for_update=True)
            if session.state != LeaseState.READY.value or not session.container_id:
                raise Conflict(
                    f"only a ready session can be stopped; this one is {session.state}",
                    code="session_not_ready",
                )
            transition(session, LeaseState.STOPPED, now=self._clock())
            container_id, environment = session.container_id, session.environment
            owner_id = session.user_id
        self.changes.publish(owner_id)
        try:
            await self._drivers.get(environment).stop_workspace(container_id)
        except MoorageError as exc:
            await self._move(session_id, LeaseState.STOPPED, LeaseState.READY)
            if isinstance(exc, NotFound):  # the reconciler fails it on its next pass
                raise RuntimeUnavailable(
                    f"the container of session {session_id} is gone", code="container_gone"
                ) from exc
            raise
        await self._audit(user, "stop", session_id, environment=environment.name, source=source)
        return await self._reload(session_id)

    async def start(
        self, user: User, session_id: str, *, source: str | None = None
    ) -> WorkspaceSession:
        """Start a stopped session again and return it once it is usable (its kind's
        readiness check, as at launch), with the same account, secret and disk.
        Audited as ``session.start`` from the client address ``source``. Allowed to
        whoever may end the session (its owner; admins).

        Returns:
            The session, ``ready``; ``ports`` as published now.

        Raises:
            NotFound: no such session, or ``user`` may not see it (404).
            Conflict: the session is not ``stopped`` (409, code
                ``session_not_stopped``), or it was ended while starting (409, code
                ``session_ended``).
            QuotaExceeded: running it again would pass a CPU or memory quota of the
                owner's org or group (429); it stays ``stopped``.
            RuntimeUnavailable: Docker could not start it, or it did not become usable
                within the launch timeout (503); it stays ``stopped``.
        """
        async with self._sessionmaker() as db:
            session = await self._visible(db, user, session_id)
            if session.state != LeaseState.STOPPED.value or not session.container_id:
                raise Conflict(
                    f"only a stopped session can be started; this one is {session.state}",
                    code="session_not_stopped",
                )
            container_id, environment, template = (
                session.container_id,
                session.environment,
                session.template,
            )
            sealed, owner = session.secret_sealed, session.user
            scopes = await quotas.scopes_of(db, owner)
        secret = self._keyring.open(sealed, SECRET_CONTEXT) if sealed else None
        driver = self._drivers.get(environment)
        try:
            container = await driver.start_workspace(container_id, secret=secret)
            started = StartedWorkspace(
                driver=driver,
                container=container,
                template=template,
                session_id=session_id,
                publish_address=self._publish_address,
                secret=secret,
            )
            await kind_for(template.kind).wait_ready(started, self._launch_timeout)
        except NotFound as exc:  # the reconciler fails it on its next pass
            raise RuntimeUnavailable(
                f"the container of session {session_id} is gone", code="container_gone"
            ) from exc
        except BaseException:
            await asyncio.shield(_stop_quietly(driver, container_id, session_id))
            raise
        ports = {str(k): v for k, v in container.ports.items()} or None

        try:
            async with write_session(self._sessionmaker) as db:
                # A stopped session holds no CPU or memory; started, it takes them again.
                await quotas.check_restart(db, owner, scopes, template)
                row = await self._locked(db, session_id)
                if row is None:
                    raise self._not_found(session_id)
                state, owner_id = row.state, row.user_id
                if state == LeaseState.STOPPED.value:
                    transition(row, LeaseState.READY, now=self._clock())
                    row.ports = ports
                    row.last_activity_at = self._clock()  # starting it is using it
        except QuotaExceeded:
            await asyncio.shield(_stop_quietly(driver, container_id, session_id))
            raise
        if state not in (LeaseState.STOPPED.value, LeaseState.READY.value):
            raise Conflict("the session was ended while it was starting", code=f"{self.noun}_ended")
        self.changes.publish(owner_id)
        await self._audit(user, "start", session_id, environment=environment.name, source=source)
        return await self._reload(session_id)

    async def _move(self, session_id: str, from_: LeaseState, to: LeaseState) -> None:
        """``from_ → to`` if the session is still ``from_`` (undoing a step whose
        runtime half failed)."""
        async with write_session(self._sessionmaker) as db:
            row = await self._locked(db, session_id)
            if row is None or row.state != from_.value:
                return
            transition(row, to, now=self._clock())
            owner_id = row.user_id
        self.changes.publish(owner_id)


async def _stop_quietly(driver: ContainerDriver, container_id: str, session_id: str) -> None:
    """Stop a container whose start failed, so a ``stopped`` row keeps a stopped
    container; a failure is logged (the next start starts it from where it is)."""
    try:
        await driver.stop_workspace(container_id, grace_seconds=2)
    except MoorageError as exc:
        log.warning("session %s: could not stop its container again: %s", session_id, exc.message)
