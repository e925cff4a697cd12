"""The warm path of :meth:`SessionService.launch <moorage.services.sessions.SessionService.launch>`:
claim a warm workspace (:mod:`moorage.services.warm_pools`) instead of starting a
container, then hand it over to its person.

1. one transaction locks the owner's row, checks the per-user limit, claims a
   warm workspace (the guarded ``UPDATE``) and inserts the session with the warm
   workspace's id and container, ``provisioning``; nothing is written when no
   warm workspace is free, and the launch starts a cold one;
2. the kind's :meth:`~moorage.services.kinds.WorkspaceKind.hand_over` sets what
   is the person's in the container (account or VNC password);
3. the session becomes ``ready``: its clock starts at the claim, not when the
   container started. On a failure in 2 the container is removed and the
   session failed, as for a cold start.

A kind with nothing to hand over (the terminal, the web app:
:attr:`~moorage.services.kinds.WorkspaceKind.hands_over_nothing`) skips 2 and 3:
its session is inserted ``ready``, with its audit event, in the claim's
transaction, so a claim is one write transaction instead of three (on SQLite,
writes queue on one lock: a class of fifty claiming at once waited on each
other's).

Undoing a failed launch, cold or warm (:meth:`WarmLaunch._abort_launch`), is here too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.db.engine import write_session
from moorage.drivers.base import WorkspaceContainer
from moorage.errors import MoorageError, QuotaExceeded
from moorage.models.environment import Environment
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User
from moorage.security.passwords import generate_password
from moorage.services import quotas
from moorage.services.audit import audit_in
from moorage.services.kinds import StartedWorkspace, kind_for
from moorage.services.session_power import SECRET_CONTEXT, SessionPower
from moorage.services.warm_pools import Claimed, WarmPools

__all__ = ["WarmLaunch"]

log = logging.getLogger(__name__)


class WarmLaunch(SessionPower):
    """The launch steps :class:`~moorage.services.sessions.SessionService` shares with
    its warm path: the per-user limit, undoing a launch that failed, and the claim
    and hand-over of a warm workspace."""

    async def _abort_launch(
        self,
        session_id: str,
        environment: Environment,
        container_id: str | None,
        exc: BaseException,
    ) -> None:
        """Undo a launch that failed after its row was written: remove the container
        (not yet on the row) and fail the session."""
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
        await self.fail(session_id, message)

    async def _check_quota(self, db: AsyncSession, user: User, template: Template) -> None:
        """Raise QuotaExceeded when ``user`` holds the template's maximum of live
        sessions (called with the owner's row locked)."""
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

    async def _launch_warm(
        self,
        user: User,
        template: Template,
        duration: timedelta,
        pools: WarmPools,
        scopes: list[quotas.QuotaScope],
        recorded: bool,
        source: str | None,
    ) -> WorkspaceSession | None:
        """The launch from a warm workspace, ready (module docstring); None when no
        warm workspace is free (nothing written)."""
        in_claim = kind_for(template.kind).hands_over_nothing
        claimed = await self._insert_claimed(
            user,
            template,
            duration,
            pools,
            scopes,
            recorded=recorded,
            ready_from=(source or "") if in_claim else None,
        )
        if claimed is None:
            return None
        if in_claim:
            return await self._reload(claimed.id)
        return await self._hand_over(user, template, claimed, duration, source)

    async def _insert_claimed(
        self,
        user: User,
        template: Template,
        duration: timedelta,
        pools: WarmPools,
        scopes: list[quotas.QuotaScope],
        *,
        recorded: bool,
        ready_from: str | None = None,
    ) -> Claimed | None:
        """Claim a warm workspace and insert its session (``provisioning``, same id, its
        container) in one transaction, after the group and org quotas (``scopes``) and
        the per-user limit, as a cold start checks them; None when none is free
        (nothing written). ``recorded``: whether the session is recorded (read before,
        to keep the transaction short). With ``ready_from`` (the client's address, "" when
        unknown) the session is inserted ``ready`` with the warm secret, its clock
        starting now, and its ``session.launch`` event in the same transaction."""
        async with write_session(self._sessionmaker) as db:
            await quotas.check_session(db, user, scopes, template, duration)
            await self._lock_owner(db, user)
            await self._check_quota(db, user, template)
            claimed = await pools.claim(db, template)
            if claimed is None:
                return None
            columns = self._new_lease_columns(user, duration)
            columns["id"] = claimed.id
            if ready_from is not None:
                columns.update(state=LeaseState.READY.value, instance_id=None)
                columns["secret_sealed"] = claimed.secret_sealed
                audit_in(
                    db,
                    user,
                    "session.launch",
                    "session",
                    claimed.id,
                    environment=claimed.environment.name,
                    detail=f"{template.name} (warm)",
                    source=ready_from or None,
                )
            db.add(
                WorkspaceSession(
                    **columns,
                    template_id=template.id,
                    environment_id=claimed.environment.id,
                    container_id=claimed.container_id,
                    ports=claimed.ports,
                    recorded=recorded,
                )
            )
            expires_at = columns["expires_at"]
        if ready_from is not None:
            self._notify(claimed.id, expires_at)
            self.changes.publish(user.id)
        return claimed

    async def _hand_over(
        self,
        user: User,
        template: Template,
        claimed: Claimed,
        duration: timedelta,
        source: str | None,
    ) -> WorkspaceSession:
        """Finish a launch that claimed a warm workspace: the kind makes its secrets
        the person's, then the session is ready with its clock starting now. On
        failure the container is removed and the session failed, as for a cold start."""
        kind = kind_for(template.kind)
        driver = self._drivers.get(claimed.environment)
        old = (
            self._keyring.open(claimed.secret_sealed, SECRET_CONTEXT)
            if claimed.secret_sealed
            else None
        )
        try:
            handed = await kind.hand_over(
                StartedWorkspace(
                    driver=driver,
                    container=WorkspaceContainer(
                        claimed.container_id,
                        f"moorage-{claimed.id}",
                        {},
                        "running",
                        {int(k): v for k, v in (claimed.ports or {}).items()},
                    ),
                    template=template,
                    session_id=claimed.id,
                    publish_address=self._publish_address,
                    secret=old,
                ),
                generate_password(12),
            )
        except BaseException as exc:
            await asyncio.shield(
                self._abort_launch(claimed.id, claimed.environment, claimed.container_id, exc)
            )
            raise
        sealed = self._keyring.seal(handed.secret, SECRET_CONTEXT) if handed.secret else None

        def fill(session: WorkspaceSession) -> None:
            session.account, session.secret_sealed = handed.account, sealed

        session = await self._mark_ready(claimed.id, duration, fill)
        await self._audit(
            user,
            "launch",
            session.id,
            environment=claimed.environment.name,
            detail=f"{template.name} (warm)",
            source=source,
        )
        return session
