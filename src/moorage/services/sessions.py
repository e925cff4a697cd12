"""Sessions: launch, extend, release, and the reconciler's view of them.

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
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.drivers.base import WorkspaceSpec
from moorage.drivers.pool import DriverPool
from moorage.errors import (
    Conflict,
    InvalidInput,
    MoorageError,
    NotFound,
    QuotaExceeded,
    RuntimeUnavailable,
)
from moorage.models.environment import Environment
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template, TemplateKind
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.passwords import generate_password
from moorage.security.rbac import has_role
from moorage.services.changes import ChangeFeed
from moorage.services.leases import extend_expiry, requested_duration, transition
from moorage.services.templates import find_template
from moorage.services.workspace_kinds import (
    KINDS,
    base_url,
    wait_for_banner,
    wait_for_http_ok,
    wait_for_rdp,
)

__all__ = ["ORG_LABEL", "SESSION_LABEL", "DeadlineListener", "SessionService", "session_labels"]

log = logging.getLogger(__name__)

SECRET_CONTEXT = "session.password"
SESSION_LABEL = "moorage.session"
ORG_LABEL = "moorage.org"

DeadlineListener = Callable[[str, datetime | None], None]
"""Told ``(session_id, expires_at)`` when a deadline is set or moved, ``None`` when
the session no longer needs one. The in-process reconciler's queue listens."""


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


async def _wait_for_vnc(host: str, port: int, password: str, timeout_seconds: float) -> None:
    """Ready once a full VNC handshake with the session's password succeeds."""
    from moorage.gateway.desktop import open_vnc

    deadline = asyncio.get_running_loop().time() + timeout_seconds
    delay = 0.01  # Xvnc answers a fraction of a second after start: poll finely, then back off
    while True:
        try:
            _, writer = await open_vnc(host, port, password)
        except RuntimeUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.1)
            continue
        writer.close()
        return


async def _locked(db: AsyncSession, session_id: str) -> WorkspaceSession | None:
    """Load a session row with a write lock on that row only (not its joined rows)."""
    return await db.scalar(
        select(WorkspaceSession)
        .where(WorkspaceSession.id == session_id)
        .with_for_update(of=WorkspaceSession)
    )


class SessionService:
    """Session operations for the API, the UI and the reconciler.

    Args:
        sessionmaker: opens database sessions.
        drivers: the per-environment drivers.
        instance_id: this server process's id (see :class:`~moorage.models.ServerInstance`).
        keyring: seals the passwords of workspace accounts (ssh kind).
        launch_timeout_seconds: how long a container may take to become usable.
        publish_address: host address the workspaces' ports are published on.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        *,
        instance_id: str,
        keyring: Keyring,
        launch_timeout_seconds: float = 60.0,
        publish_address: str = "127.0.0.1",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keyring = keyring
        self._publish_address = publish_address
        self._drivers = drivers
        self._instance_id = instance_id
        self._launch_timeout = launch_timeout_seconds
        self._clock = clock
        self._listeners: list[DeadlineListener] = []
        self.changes = ChangeFeed()

    def add_deadline_listener(self, listener: DeadlineListener) -> None:
        self._listeners.append(listener)

    def _notify(self, session_id: str, expires_at: datetime | None) -> None:
        for listener in self._listeners:
            listener(session_id, expires_at)

    # -- reading -----------------------------------------------------------

    async def get(self, user: User, session_id: str) -> WorkspaceSession:
        """The session ``session_id`` if ``user`` owns it or is an admin.

        Raises:
            NotFound: no such session, or it belongs to someone else.
        """
        async with self._sessionmaker() as db:
            return await self._get_visible(db, user, session_id)

    async def list(
        self, user: User, *, all_users: bool = False, live_only: bool = False
    ) -> list[WorkspaceSession]:
        """The caller's sessions, newest first; everyone's in the org when ``all_users``
        (admins only).

        Raises:
            Forbidden: ``all_users`` asked by a non-admin.
        """
        query = select(WorkspaceSession).where(WorkspaceSession.org_id == user.org_id)
        if all_users:
            from moorage.security.rbac import require_role

            require_role(user, Role.ADMIN)
        else:
            query = query.where(WorkspaceSession.user_id == user.id)
        if live_only:
            query = query.where(WorkspaceSession.state.in_(LIVE_STATES))
        async with self._sessionmaker() as db:
            return list(await db.scalars(query.order_by(WorkspaceSession.created_at.desc())))

    async def _get_visible(
        self, db: AsyncSession, user: User, session_id: str, *, for_update: bool = False
    ) -> WorkspaceSession:
        query = select(WorkspaceSession).where(WorkspaceSession.id == session_id)
        if for_update:
            query = query.with_for_update(of=WorkspaceSession)
        session = await db.scalar(query)
        if (
            session is None
            or (session.user_id != user.id and not has_role(user, Role.ADMIN))
            or session.org_id != user.org_id
        ):
            raise NotFound(f"no session {session_id}", code="session_not_found")
        return session

    # -- launching ---------------------------------------------------------

    async def launch(
        self,
        user: User,
        template_ref: str,
        *,
        duration_minutes: int | None = None,
        duration_seconds: int | None = None,
    ) -> WorkspaceSession:
        """Start a session from a template and return it once it is ``ready``.

        Raises:
            NotFound: unknown template (404).
            InvalidInput: bad duration, naming the maximum (422).
            QuotaExceeded: the user already has the template's maximum of live
                sessions (429).
            RuntimeUnavailable: Docker cannot be reached or the container did not
                become usable (503); no container is left behind.
        """
        async with self._sessionmaker() as db:
            template = await find_template(db, template_ref, user)
            environment = await self._pick_environment(db, user)
        profile = KINDS.get(template.kind)
        if profile is None:
            raise InvalidInput(
                f"templates of kind {template.kind!r} cannot be launched yet", field="template"
            )
        duration = requested_duration(
            duration_minutes=duration_minutes,
            duration_seconds=duration_seconds,
            default_minutes=template.default_duration_minutes,
            max_minutes=template.max_duration_minutes,
        )
        driver = self._drivers.get(environment)
        if not await driver.image_present(template.image):
            raise RuntimeUnavailable(
                f"the image {template.image} of template {template.name} is not on "
                f"environment {environment.name}; build it with `moorage images build`",
                code="image_missing",
            )

        session_id = await self._insert_provisioning(user, template, environment, duration)
        container_id: str | None = None
        env: dict[str, str] = {}
        secret_sealed: str | None = None
        ports = profile.ports
        if template.kind == TemplateKind.HTTP.value:
            ports = (template.port or 8888,)
            env = {"MOORAGE_BASE_URL": base_url(session_id)}
        if template.kind == TemplateKind.VNC.value:
            password = generate_password(12)
            env = {"VNC_PASSWORD": password}
            secret_sealed = self._keyring.seal(password, SECRET_CONTEXT)
        if profile.account:
            password = generate_password(12)
            prefix = "RDP" if template.kind == TemplateKind.RDP.value else "SSH"
            env = {f"{prefix}_USER": template.shell_user, f"{prefix}_PASSWORD": password}
            secret_sealed = self._keyring.seal(password, SECRET_CONTEXT)
        try:
            now = self._clock()
            labels = session_labels(
                WorkspaceSession(id=session_id, org_id=user.org_id, expires_at=now + duration),
                template,
                user,
            )
            spec = WorkspaceSpec(
                name=f"moorage-{session_id}",
                image=template.image,
                labels=labels,
                cpu_limit=template.cpu_limit,
                memory_limit_mb=template.memory_limit_mb,
                env=env,
                ports=ports,
                publish_address=self._publish_address,
                cap_add=profile.cap_add,
            )
            container = await driver.create_workspace(spec)
            container_id = container.id
            if template.kind == TemplateKind.SSH.value:
                await wait_for_banner(
                    self._publish_address, container.ports[22], b"SSH-2.0", self._launch_timeout
                )
            elif template.kind == TemplateKind.VNC.value:
                await _wait_for_vnc(
                    self._publish_address,
                    container.ports[5901],
                    self._keyring.open(secret_sealed or "", SECRET_CONTEXT),
                    self._launch_timeout,
                )
            elif template.kind == TemplateKind.RDP.value:
                await wait_for_rdp(
                    self._publish_address, container.ports[3389], self._launch_timeout
                )
            elif template.kind == TemplateKind.HTTP.value:
                url = f"http://{self._publish_address}:{container.ports[ports[0]]}"
                await wait_for_http_ok(url + base_url(session_id), self._launch_timeout)
            else:
                await driver.wait_usable(container_id, template.shell_user, self._launch_timeout)
        except BaseException as exc:
            await asyncio.shield(self._abort_launch(session_id, environment, container_id, exc))
            raise
        return await self._mark_ready(
            session_id,
            container_id,
            duration,
            ports={str(k): v for k, v in container.ports.items()} or None,
            account=template.shell_user if profile.account else None,
            secret_sealed=secret_sealed,
        )

    def secret_of(self, session: WorkspaceSession) -> str | None:
        """The workspace account's password (ssh kind), for its owner."""
        if session.secret_sealed is None:
            return None
        return self._keyring.open(session.secret_sealed, SECRET_CONTEXT)

    async def _pick_environment(self, db: AsyncSession, user: User) -> Environment:
        environment = await db.scalar(
            select(Environment)
            .where(Environment.org_id == user.org_id)
            .order_by(Environment.created_at)
            .limit(1)
        )
        if environment is None:
            raise RuntimeUnavailable(
                "no Docker environment is configured; start Moorage where Docker is reachable",
                code="no_environment",
            )
        return environment

    async def _insert_provisioning(
        self, user: User, template: Template, environment: Environment, duration
    ) -> str:
        async with write_session(self._sessionmaker) as db:
            # Serialise launches of one user so the count and the insert agree.
            await db.execute(select(User.id).where(User.id == user.id).with_for_update())
            live = await db.scalar(
                select(func.count())
                .select_from(WorkspaceSession)
                .where(
                    WorkspaceSession.user_id == user.id,
                    WorkspaceSession.template_id == template.id,
                    WorkspaceSession.state.in_(LIVE_STATES),
                )
            )
            if (live or 0) >= template.max_sessions_per_user:
                raise QuotaExceeded(
                    f"you already have {live} live sessions of {template.name}; the limit is "
                    f"{template.max_sessions_per_user} per user",
                    limit=template.max_sessions_per_user,
                )
            now = self._clock()
            session = WorkspaceSession(
                id=new_id(),
                org_id=user.org_id,
                user_id=user.id,
                template_id=template.id,
                environment_id=environment.id,
                state=LeaseState.PROVISIONING.value,
                starts_at=now,
                expires_at=now + duration,
                created_at=now,
                instance_id=self._instance_id,
            )
            db.add(session)
        return session.id

    async def _abort_launch(
        self,
        session_id: str,
        environment: Environment,
        container_id: str | None,
        exc: BaseException,
    ) -> None:
        """Undo a launch that failed after its row was written."""
        if container_id is not None:
            try:
                await self._drivers.get(environment).remove(container_id)
            except MoorageError:
                log.warning(
                    "could not remove container %s of failed session %s; the reconciler will",
                    container_id,
                    session_id,
                )
        message = exc.message if isinstance(exc, MoorageError) else f"launch aborted: {exc!r}"
        async with write_session(self._sessionmaker) as db:
            session = await _locked(db, session_id)
            if session is not None and not LeaseState(session.state).is_terminal:
                transition(session, LeaseState.FAILED, now=self._clock(), error=message)

    async def _mark_ready(
        self,
        session_id: str,
        container_id: str,
        duration: timedelta,
        *,
        ports: dict[str, int] | None = None,
        account: str | None = None,
        secret_sealed: str | None = None,
    ) -> WorkspaceSession:
        async with write_session(self._sessionmaker) as db:
            session = await _locked(db, session_id)
            if session is None:
                raise NotFound(f"no session {session_id}", code="session_not_found")
            session.container_id = container_id
            session.ports, session.account, session.secret_sealed = ports, account, secret_sealed
            if session.state != LeaseState.PROVISIONING.value:
                # Released (or failed by the reconciler) while starting: finish the job.
                released = True
            else:
                released = False
                now = self._clock()
                transition(session, LeaseState.READY, now=now)
                session.starts_at = now
                session.expires_at = now + duration
                session.instance_id = None
        if released:
            await self._finish_release(session_id)
            raise Conflict("the session was ended while it was starting", code="session_ended")
        self._notify(session.id, session.expires_at)
        self.changes.publish(session.user_id)
        return await self._reload(session_id)

    async def _reload(self, session_id: str) -> WorkspaceSession:
        async with self._sessionmaker() as db:
            session = await db.get(WorkspaceSession, session_id, populate_existing=True)
            if session is None:
                raise NotFound(f"no session {session_id}", code="session_not_found")
            return session

    # -- changing ----------------------------------------------------------

    async def extend(self, user: User, session_id: str, minutes: int) -> WorkspaceSession:
        """Push the deadline back by ``minutes``, never past the template's maximum.

        Raises:
            NotFound, InvalidInput (names the minutes still allowed), Conflict (not ready).
        """
        async with write_session(self._sessionmaker) as db:
            session = await self._get_visible(db, user, session_id, for_update=True)
            extend_expiry(
                session,
                minutes=minutes,
                max_minutes=session.template.max_duration_minutes,
                now=self._clock(),
            )
            expires_at = session.expires_at
        self._notify(session_id, expires_at)
        self.changes.publish(session.user_id)
        return await self._reload(session_id)

    async def release(self, user: User, session_id: str) -> WorkspaceSession:
        """End a session now (owner or admin). Idempotent on ended sessions.

        The container is removed before this returns when Docker answers;
        otherwise the session stays ``releasing`` and the reconciler retries.
        """
        async with self._sessionmaker() as db:
            await self._get_visible(db, user, session_id)
        await self.release_by_id(session_id)
        return await self._reload(session_id)

    async def release_by_id(self, session_id: str, *, reason: str | None = None) -> bool:
        """Release a session (the reconciler's entry point at a deadline).

        Returns:
            True when the session reached ``released`` now or before; False when
            it is left ``releasing`` because the runtime could not be reached.
        """
        async with write_session(self._sessionmaker) as db:
            session = await _locked(db, session_id)
            if session is None or LeaseState(session.state).is_terminal:
                return True
            was_provisioning = session.state == LeaseState.PROVISIONING.value
            if session.state != LeaseState.RELEASING.value:
                transition(session, LeaseState.RELEASING, now=self._clock())
                if reason:
                    session.error = reason
            if was_provisioning:
                # The launching coroutine finishes the release when it sees this state;
                # if its server died, the reconciler's pass over `releasing` rows does.
                return True
        self._notify(session_id, None)
        self.changes.publish(session.user_id)
        return await self._finish_release(session_id)

    async def _finish_release(self, session_id: str) -> bool:
        async with self._sessionmaker() as db:
            session = await db.get(WorkspaceSession, session_id)
            if session is None:
                return True
            container_id, environment = session.container_id, session.environment
        if container_id:
            try:
                await self._drivers.get(environment).remove(container_id)
            except MoorageError as exc:
                log.warning(
                    "session %s: container removal failed, will retry: %s", session_id, exc.message
                )
                return False
        async with write_session(self._sessionmaker) as db:
            session = await _locked(db, session_id)
            if session is not None and session.state == LeaseState.RELEASING.value:
                transition(session, LeaseState.RELEASED, now=self._clock())
                self.changes.publish(session.user_id)
        return True

    async def fail(self, session_id: str, error: str) -> None:
        """Mark a live session ``failed`` with ``error`` and remove its container
        when it has one (the reconciler's verdict on vanished or orphaned launches)."""
        async with write_session(self._sessionmaker) as db:
            session = await _locked(db, session_id)
            if session is None or LeaseState(session.state).is_terminal:
                return
            transition(session, LeaseState.FAILED, now=self._clock(), error=error)
            container_id, environment = session.container_id, session.environment
        self._notify(session_id, None)
        self.changes.publish(session.user_id)
        if container_id:
            try:
                await self._drivers.get(environment).remove(container_id)
            except MoorageError:
                pass  # an orphan now: the next reconcile pass removes it by its label
