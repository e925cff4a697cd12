"""Sessions: a lease on one workspace container started from a template.

The lease lifecycle (reading, extending, releasing, failing) is
:class:`~moorage.services.leases.LeaseService`'s; what a session adds is its
container: how it is launched, stopped and started again
(:mod:`moorage.services.session_power`), and how it is reclaimed (removed). What differs
between kinds of workspace is asked of the kind (:mod:`moorage.services.kinds`).

Launching never holds a database transaction across a Docker call:

1. check that the image is on the environment (503 before anything is written);
2. one transaction validates the template, the duration and the per-user
   limit and inserts the row in ``provisioning`` (the count and the insert are
   atomic: ``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on the user
   row elsewhere);
3. the container is created and probed; on failure it is removed and the row
   becomes ``failed``;
4. a second transaction marks the row ``ready`` and starts the clock.

A crash between 2 and 4 leaves a ``provisioning`` row whose server instance
stopped beating; the reconciler fails it and removes its container.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.base import WorkspaceSpec
from moorage.drivers.pool import DriverPool
from moorage.errors import Conflict, MoorageError
from moorage.models.environment import Environment
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.org import Org
from moorage.models.session import EndReason, WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import Role, User
from moorage.observability.metrics import LAUNCH_SECONDS
from moorage.schemas.session import SessionConnection
from moorage.security.crypto import Keyring
from moorage.security.passwords import generate_password
from moorage.security.rbac import require_role
from moorage.services import placement, quotas
from moorage.services.activity import Activity
from moorage.services.groups import check_may_launch
from moorage.services.kinds import KINDS, StartedWorkspace, kind_for
from moorage.services.leases import DeadlineListener, Visibility, requested_duration
from moorage.services.recordings import recording_required
from moorage.services.session_power import SECRET_CONTEXT
from moorage.services.templates import find_template
from moorage.services.warm_launch import WarmLaunch
from moorage.services.warm_pools import WarmPools

__all__ = [
    "ORG_LABEL",
    "SECRET_CONTEXT",
    "SESSION_LABEL",
    "DeadlineListener",
    "SessionService",
    "session_labels",
]

log = logging.getLogger(__name__)

RECLAIM_CONCURRENCY = 10
"""Container removals at once per process, by default (see :meth:`SessionService._reclaim`)."""

SESSION_LABEL = "moorage.session"
ORG_LABEL = "moorage.org"


def session_labels(session: WorkspaceSession, template: Template, user: User) -> dict[str, str]:
    """Docker labels of a session's container (all under ``moorage.``)."""
    return {
        SESSION_LABEL: session.id,
        ORG_LABEL: session.org_id,
        "moorage.user": user.username,
        "moorage.template": template.name,
        "moorage.expires_at": session.expires_at.isoformat(),
        "moorage.cpu_limit": f"{template.cpu_limit:g}",
        "moorage.memory_limit_mb": str(template.memory_limit_mb),
    }


class SessionService(WarmLaunch):
    """Session operations for the API, the UI and the reconciler. Owners see their
    sessions; admins see everyone's in their org. Stopping and starting a session
    again are :class:`~moorage.services.session_power.SessionPower`'s; claiming a
    warm workspace :class:`~moorage.services.warm_launch.WarmLaunch`'s.

    Args:
        sessionmaker: opens database sessions.
        drivers: the per-environment drivers.
        instance_id: this server process's id (see :class:`~moorage.models.ServerInstance`).
        keyring: seals the sessions' secrets (workspace account or VNC password).
        launch_timeout_seconds: how long a container may take to become usable.
        publish_address: host address the workspaces' ports are published on.
        clock: current UTC time; injected for tests.
    """

    model = WorkspaceSession
    noun = "session"
    visibility = Visibility(sees_all=Role.ADMIN)
    ended_message = "the session was ended while it was starting"
    release_verb = "end"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        *,
        instance_id: str,
        keyring: Keyring,
        launch_timeout_seconds: float = 60.0,
        publish_address: str = "127.0.0.1",
        reclaim_concurrency: int = RECLAIM_CONCURRENCY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(sessionmaker, instance_id=instance_id, clock=clock)
        self._keyring = keyring
        self._publish_address = publish_address
        self._drivers = drivers
        self._launch_timeout = launch_timeout_seconds
        self.activity = Activity(sessionmaker, clock=clock)
        """What people do in the sessions (their idle timeout)."""
        self._reclaims = asyncio.Semaphore(reclaim_concurrency)
        self.warm_pools: WarmPools | None = None
        """Claimed from before a cold start when set (:meth:`launch`)."""

    def limit_minutes(self, lease: WorkspaceSession) -> int:
        """The template's maximum duration."""
        return lease.template.max_duration_minutes

    def _ending(self, lease: WorkspaceSession, end_reason: str) -> None:
        lease.end_reason = end_reason

    async def keep(self, user: User, session_id: str, *, source: str | None = None) -> None:
        """ "Keep it": the owner (or an admin) is still there, so the idle clock starts
        over. Audited as ``session.keep``.

        Raises:
            NotFound: no such session, or ``user`` may not see it.
            Conflict: the session is not ready.
        """
        session = await self.get(user, session_id)
        if session.state != LeaseState.READY.value:
            raise Conflict(
                "the session is %(state)s",
                params={"state": session.state},
                code="session_not_ready",
            )
        await self.activity.mark(session_id)
        await self._audit(user, "keep", session_id, source=source)

    async def end_idle(self, session_id: str) -> bool:
        """End a session whose idle timeout passed (the reconciler); see
        :meth:`release_by_id`."""
        return await self.release_by_id(session_id, end_reason=EndReason.IDLE.value)

    # -- launching ---------------------------------------------------------

    async def launch(
        self,
        user: User,
        template_ref: str,
        *,
        duration_minutes: int | None = None,
        duration_seconds: int | None = None,
        source: str | None = None,
        workshop_seat: bool = False,
    ) -> WorkspaceSession:
        """Start a session from a template and return it once it is ``ready``; audited
        as ``session.launch`` (from the client address ``source``) once it is. Timed into
        ``moorage_session_launch_seconds`` (labels: the workspace kind, ``unknown`` before
        the template is found; outcome ``ready``, ``refused`` for a 4xx, ``failed``).
        A warm workspace is claimed when the template keeps some, or for a
        ``workshop_seat`` (its workshop raised the pool; its participant may be a
        temporary user, of the viewer role).

        Raises:
            Forbidden: ``user`` is below the member role, not for a seat (403).
            NotFound: unknown template (404).
            InvalidInput: a kind that cannot be launched, or a bad duration, naming
                the maximum (422).
            Forbidden: the template is restricted to groups ``user`` is not in (403,
                code ``group_required``, naming them).
            QuotaExceeded: the user already has the template's maximum of live
                sessions, or a quota of their org or a group would be passed
                (429, naming the quota; :mod:`moorage.services.quotas`).
            RuntimeUnavailable: Docker cannot be reached or the container did not
                become usable (503); no container is left behind.
        """
        started = time.perf_counter()
        outcome, kind = "failed", "unknown"
        try:
            session = await self._launch(
                user,
                template_ref,
                duration_minutes=duration_minutes,
                duration_seconds=duration_seconds,
                source=source,
                workshop_seat=workshop_seat,
            )
            outcome, kind = "ready", session.template.kind
            return session
        except MoorageError as exc:
            if exc.status_code < 500:
                outcome = "refused"
            raise
        finally:
            LAUNCH_SECONDS.labels(kind, outcome).observe(time.perf_counter() - started)

    async def _launch(
        self,
        user: User,
        template_ref: str,
        *,
        duration_minutes: int | None = None,
        duration_seconds: int | None = None,
        source: str | None = None,
        workshop_seat: bool = False,
    ) -> WorkspaceSession:
        """What :meth:`launch` does, untimed."""
        require_role(user, Role.VIEWER if workshop_seat else Role.MEMBER)
        async with self._sessionmaker() as db:
            template = await find_template(db, template_ref, user)
            await check_may_launch(db, user, template)
            scopes = await quotas.scopes_of(db, user)
            recorded = recording_required(template, await db.get(Org, user.org_id))
        kind = kind_for(template.kind)
        duration = requested_duration(
            duration_minutes=duration_minutes,
            duration_seconds=duration_seconds,
            default_minutes=template.default_duration_minutes,
            max_minutes=template.max_duration_minutes,
        )
        if self.warm_pools is not None and (template.warm or workshop_seat):
            warm = await self._launch_warm(
                user, template, duration, self.warm_pools, scopes, recorded, source
            )
            if warm is not None:
                return warm
        async with self._sessionmaker() as db:  # after a claim: warm ones hold their room
            candidates = await placement.candidates(db, user.org_id, template)
        with_image = await placement.holding_image(self._drivers, template, candidates)
        session_id, environment = await self._insert_provisioning(
            user, template, with_image, duration, scopes
        )
        driver = self._drivers.get(environment)
        setup = kind.environment(template, session_id, generate_password(12))
        secret_sealed = self._keyring.seal(setup.secret, SECRET_CONTEXT) if setup.secret else None
        container_id: str | None = None
        try:
            labels = session_labels(
                WorkspaceSession(
                    id=session_id, org_id=user.org_id, expires_at=self._clock() + duration
                ),
                template,
                user,
            )
            spec = WorkspaceSpec(
                name=f"moorage-{session_id}",
                image=template.image,
                labels=labels,
                cpu_limit=template.cpu_limit,
                memory_limit_mb=template.memory_limit_mb,
                env=setup.env,
                ports=kind.ports(template),
                publish_address=self._publish_address,
                cap_add=kind.cap_add,
                secret=setup.secret,
                placement=dict(template.environment_labels or {}),
            )
            container = await driver.create_workspace(spec)
            container_id = container.id
            started = StartedWorkspace(
                driver=driver,
                container=container,
                template=template,
                session_id=session_id,
                publish_address=self._publish_address,
                secret=setup.secret,
            )
            await kind.wait_ready(started, self._launch_timeout)
        except BaseException as exc:
            await asyncio.shield(self._abort_launch(session_id, environment, container_id, exc))
            raise
        ports = {str(k): v for k, v in container.ports.items()} or None

        def fill(session: WorkspaceSession) -> None:
            session.container_id = container.id
            session.ports, session.account = ports, setup.account
            session.secret_sealed = secret_sealed

        session = await self._mark_ready(session_id, duration, fill)
        await self._audit(
            user,
            "launch",
            session.id,
            environment=environment.name,
            detail=template_ref,
            source=source,
        )
        return session

    def connection_of(
        self, session: WorkspaceSession, viewer: User | None, host: str
    ) -> SessionConnection | None:
        """How a native client reaches the session at ``host`` (the public host): the
        published port of its kind's ``native_port``, its account and the command to
        type; the password for its owner (``viewer``) while it lives. None for kinds
        without a native client, before the port and account exist, and for a session
        on another host (an ``ssh://`` or ``agent://`` environment): its port is on that host's
        loopback, which only the gateway reaches."""
        kind = KINDS.get(session.template.kind)
        if kind is None or kind.native_port is None or not session.ports or not session.account:
            return None
        if session.environment.kind in ("ssh", "agent", "swarm"):  # ports on another host
            return None
        published = session.ports.get(str(kind.native_port))
        command = kind.client_command(host, int(published), session.account) if published else None
        if published is None or command is None:
            return None
        owner = viewer is not None and viewer.id == session.user_id
        return SessionConnection(
            host=host,
            port=int(published),
            username=session.account,
            password=self.secret_of(session) if owner and session.state in LIVE_STATES else None,
            command=command,
        )

    def secret_of(self, session: WorkspaceSession) -> str | None:
        """The session's secret in clear (workspace account or VNC password), for its
        owner; None when its kind keeps none."""
        if session.secret_sealed is None:
            return None
        return self._keyring.open(session.secret_sealed, SECRET_CONTEXT)

    async def _insert_provisioning(
        self,
        user: User,
        template: Template,
        among: set[str],
        duration: timedelta,
        scopes: list[quotas.QuotaScope],
    ) -> tuple[str, Environment]:
        """Check the quotas, place the session on one of the environments ``among``
        (:func:`placement.place`, under lock) and insert it ``provisioning``; returns
        its id and environment."""
        async with write_session(self._sessionmaker) as db:
            await quotas.check_session(db, user, scopes, template, duration)
            await self._lock_owner(db, user)
            await self._check_quota(db, user, template)
            org = await db.get(Org, user.org_id)
            policy = org.placement_policy if org is not None else placement.Policy.SPREAD
            environment = await placement.place(db, user.org_id, template, policy, among)
            session = WorkspaceSession(
                **self._new_lease_columns(user, duration),
                template_id=template.id,
                environment_id=environment.id,
                recorded=recording_required(template, org),
            )
            db.add(session)
        return session.id, environment

    # -- reclaiming --------------------------------------------------------

    async def _reclaim(self, lease_id: str) -> bool:
        """Remove the session's container, if it has one; False when Docker refused.
        At most ``reclaim_concurrency`` removals run at once in this process (sessions
        ending together are reclaimed concurrently, but Docker is not sent fifty
        forced removals in the same instant); the rest wait their turn."""
        async with self._sessionmaker() as db:
            session = await db.get(WorkspaceSession, lease_id)
            if session is None or not session.container_id:
                return True
            container_id, environment = session.container_id, session.environment
        try:
            async with self._reclaims:  # many deadlines at once must not flood Docker
                await self._drivers.get(environment).remove(container_id)
        except MoorageError as exc:
            log.warning(
                "session %s: container removal failed, will retry: %s", lease_id, exc.message
            )
            return False
        return True
