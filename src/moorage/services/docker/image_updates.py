"""Image updates (operators): containers and managed stacks opted in to registry checks.

A policy (:class:`~moorage.models.image_update.ImageUpdatePolicy`) says what to watch
and what to do. On its cron ``schedule`` (the reconciler's job :meth:`run_due`) or
when an operator asks (:meth:`check_now`), Moorage compares each image with its
registry (:mod:`.image_update_apply`): a newer digest of the same tag, or a newer
tag inside ``semver_range``. Then, by ``policy``:

* ``notify``: an alert through the org's notification channels, once per new
  digest, and the status ``update_available`` (the containers page's badge);
* ``update``: inside the maintenance window (else ``waiting_for_window``), ask the
  pre-update hooks (:mod:`.update_hooks`; a veto gives ``vetoed``), pull, recreate
  with the same configuration, wait for health, and ``updated``; or, when the new
  containers fail, put the old ones back: ``rolled_back``, and that digest is not
  tried again (``rejected``) until the registry has another one.

Every change is audited (``image_update.set``/``remove`` by the operator;
``<container|stack>.image_update``, ``.image_rollback``, ``.image_update_vetoed`` by
the operator who asked, or :data:`SCHEDULER`), and updates, rollbacks and vetoes are
notified too. Statuses: ``pending`` (not checked yet), ``up_to_date``,
``update_available``, ``waiting_for_window``, ``updated``, ``rolled_back``,
``rejected``, ``vetoed``, ``error`` (``message`` says what failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.pool import DriverPool
from moorage.drivers.registry import RegistryClient
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.environment import Environment
from moorage.models.image_update import ImageUpdatePolicy
from moorage.schemas.image_update import ImageUpdatePolicyBody
from moorage.security.crypto import Keyring
from moorage.services.audit import client_address, record
from moorage.services.docker._operation import Caller, DockerService
from moorage.services.docker.image_update_apply import running_images
from moorage.services.docker.image_update_check import PolicyCheck
from moorage.services.docker.registries import RegistryService
from moorage.services.docker.update_hooks import PreUpdateHook, load_hooks
from moorage.services.docker.update_rules import next_check

__all__ = ["KINDS", "SCHEDULER", "ImageUpdateService", "policy_public"]

log = logging.getLogger(__name__)

KINDS = ("container", "stack")
SCHEDULER = "(image updates)"
"""The actor of what scheduled checks do, in the audit log."""


def policy_public(policy: ImageUpdatePolicy, environment: str) -> dict[str, Any]:
    """``{id, environment, target_kind, target_name, policy, semver_range, schedule,
    window_schedule, window_minutes, health_timeout_seconds, stable_seconds, status,
    message, current_digest, available_digest, available_tag, rejected_digest,
    checked_at, next_check_at, updated_at, created_by}`` (times ISO 8601, UTC)."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": policy.id,
        "environment": environment,
        "target_kind": policy.target_kind,
        "target_name": policy.target_name,
        "policy": policy.policy,
        "semver_range": policy.semver_range,
        "schedule": policy.schedule,
        "window_schedule": policy.window_schedule,
        "window_minutes": policy.window_minutes,
        "health_timeout_seconds": policy.health_timeout_seconds,
        "stable_seconds": policy.stable_seconds,
        "status": policy.status,
        "message": policy.message,
        "current_digest": policy.current_digest,
        "available_digest": policy.available_digest,
        "available_tag": policy.available_tag,
        "rejected_digest": policy.rejected_digest,
        "checked_at": when(policy.checked_at),
        "next_check_at": when(policy.next_check_at),
        "updated_at": when(policy.updated_at),
        "created_by": policy.created_by,
    }


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; use container or stack", field="kind")
    return kind


class ImageUpdateService(DockerService):
    """Image update policies and their checks. Every caller-facing method raises
    Forbidden below operator and NotFound for an unknown environment or policy.

    Args:
        registries: the org's registry logins (for the registry and the pulls).
        keyring: opens the notification channels' URLs.
        data_dir: where managed stacks' files are.
        registry: the registry client (injected; tests give it a mock transport).
        hooks: pre-update hooks; None loads the installed ones (:func:`load_hooks`).
        clock: the current UTC time.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        registries: RegistryService,
        keyring: Keyring,
        data_dir: Path,
        *,
        registry: RegistryClient | None = None,
        hooks: list[PreUpdateHook] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(sessionmaker, drivers)
        self._data_dir = data_dir
        self._clock = clock
        self._busy: set[str] = set()
        self.checks = PolicyCheck(
            sessionmaker,
            drivers,
            registries,
            keyring,
            data_dir,
            registry or RegistryClient(),
            load_hooks() if hooks is None else hooks,
            clock,
        )

    @property
    def hooks(self) -> list[PreUpdateHook]:
        """The pre-update hooks, in order (a list the caller may change)."""
        return self.checks.hooks

    # -- policies ------------------------------------------------------------

    async def list_policies(self, caller: Caller, env: str) -> list[dict[str, Any]]:
        """The environment's policies, by kind and name: ``[policy_public]``."""
        target = await self.target(caller, env)
        async with self._sessionmaker() as db:
            rows = await db.scalars(
                select(ImageUpdatePolicy)
                .where(ImageUpdatePolicy.environment_id == target.environment.id)
                .order_by(ImageUpdatePolicy.target_kind, ImageUpdatePolicy.target_name)
            )
            return [policy_public(row, target.environment.name) for row in rows]

    async def get_policy(self, caller: Caller, env: str, kind: str, name: str) -> dict[str, Any]:
        """One policy. Raises NotFound (code ``policy_not_found``)."""
        target = await self.target(caller, env)
        async with self._sessionmaker() as db:
            row = await self._find(db, target.environment, _kind(kind), name)
            return policy_public(row, target.environment.name)

    async def set_policy(
        self, caller: Caller, env: str, kind: str, name: str, body: ImageUpdatePolicyBody
    ) -> dict[str, Any]:
        """Create or replace the policy of container or stack ``name`` (audited
        ``image_update.set``); its first check is when ``schedule`` next fires
        (:meth:`check_now` for one at once).

        Raises:
            NotFound: no such container, or no managed stack of that name.
            InvalidInput: ``semver_range`` on a stack (field ``semver_range``).
        """
        _kind(kind)
        if kind == "stack" and body.semver_range:
            raise InvalidInput(
                "a stack's tags are in its Compose file: semver_range is for containers",
                field="semver_range",
            )
        if len(name) > 128:
            raise InvalidInput("a name of at most 128 characters", field="name")
        target = await self.target(caller, env)
        await running_images(target.driver, target.environment, self._data_dir, kind, name)
        async with write_session(self._sessionmaker) as db:
            try:
                row = await self._find(db, target.environment, kind, name)
            except NotFound:
                row = ImageUpdatePolicy(
                    org_id=caller.user.org_id,
                    environment_id=target.environment.id,
                    target_kind=kind,
                    target_name=name,
                    created_by=caller.user.username,
                    status="pending",
                )
                db.add(row)
            for field, value in body.model_dump().items():
                setattr(row, field, value)
            row.next_check_at = next_check(row.schedule, self._clock())
            self._audit(db, caller, target.environment, "image_update.set", kind, name, body)
            await db.flush()
            return policy_public(row, target.environment.name)

    async def remove_policy(self, caller: Caller, env: str, kind: str, name: str) -> None:
        """Stop watching container or stack ``name`` (audited ``image_update.remove``).
        Raises NotFound (code ``policy_not_found``)."""
        target = await self.target(caller, env)
        async with write_session(self._sessionmaker) as db:
            row = await self._find(db, target.environment, _kind(kind), name)
            await db.delete(row)
            self._audit(db, caller, target.environment, "image_update.remove", kind, name)

    async def badges(self, caller: Caller, env: str) -> dict[tuple[str, str], dict[str, Any]]:
        """``{(kind, name): policy_public}`` of the environment, for the containers page."""
        return {
            (p["target_kind"], p["target_name"]): p for p in await self.list_policies(caller, env)
        }

    # -- checks ----------------------------------------------------------------

    async def check_now(self, caller: Caller, env: str, kind: str, name: str) -> dict[str, Any]:
        """Check (and, by the policy, update) now, and wait for the outcome; returns
        the policy afterwards. The maintenance window still holds for updates.

        Raises:
            Conflict: a check of it is under way (code ``check_running``).
        """
        target = await self.target(caller, env)
        async with self._sessionmaker() as db:
            row = await self._find(db, target.environment, _kind(kind), name)
        return await self._run(row.id, caller.user.username, client_address(caller.connection))

    async def run_due(self) -> None:
        """The reconciler's job: run every policy whose ``next_check_at`` has come, one
        after the other (a failing one is logged and does not stop the others)."""
        async with self._sessionmaker() as db:
            due = list(
                await db.scalars(
                    select(ImageUpdatePolicy.id).where(
                        ImageUpdatePolicy.next_check_at <= self._clock()
                    )
                )
            )
        for policy_id in due:
            if policy_id in self._busy:
                continue
            try:
                await self._run(policy_id, SCHEDULER, None)
            except Exception:
                log.exception("image update check of policy %s failed", policy_id)

    async def _run(self, policy_id: str, actor: str, source: str | None) -> dict[str, Any]:
        if policy_id in self._busy:
            raise Conflict("a check of this policy is under way", code="check_running")
        self._busy.add(policy_id)
        try:
            async with self._sessionmaker() as db:
                policy = await db.get(ImageUpdatePolicy, policy_id)
                if policy is None:
                    raise NotFound("the policy was removed", code="policy_not_found")
                environment = await db.get(Environment, policy.environment_id)
                assert environment is not None  # the foreign key cascades
            outcome = await self.checks.run(policy, environment, actor, source)
            async with write_session(self._sessionmaker) as db:
                row = await db.get(ImageUpdatePolicy, policy_id)
                if row is None:
                    raise NotFound("the policy was removed", code="policy_not_found")
                for field, value in outcome.items():
                    setattr(row, field, value)
                now = self._clock()
                row.checked_at = now
                row.next_check_at = next_check(row.schedule, now)
                return policy_public(row, environment.name)
        finally:
            self._busy.discard(policy_id)

    # -- helpers ---------------------------------------------------------------

    async def _find(
        self, db: AsyncSession, environment: Environment, kind: str, name: str
    ) -> ImageUpdatePolicy:
        row = await db.scalar(
            select(ImageUpdatePolicy).where(
                ImageUpdatePolicy.environment_id == environment.id,
                ImageUpdatePolicy.target_kind == kind,
                ImageUpdatePolicy.target_name == name,
            )
        )
        if row is None:
            raise NotFound(
                f"no image update policy for {kind} {name!r} on {environment.name}",
                code="policy_not_found",
            )
        return row

    def _audit(
        self,
        db: AsyncSession,
        caller: Caller,
        environment: Environment,
        action: str,
        kind: str,
        name: str,
        body: ImageUpdatePolicyBody | None = None,
    ) -> None:
        detail = None
        if body is not None:
            detail = f"{body.policy}, schedule {body.schedule!r}"
            if body.semver_range:
                detail += f", range {body.semver_range}"
            if body.window_schedule:
                detail += f", window {body.window_schedule!r} for {body.window_minutes} min"
        record(
            db,
            caller.user.org_id,
            caller.user.username,
            action,
            "image_update",
            f"{kind}/{name}",
            environment=environment.name,
            detail=detail,
            source=client_address(caller.connection),
        )
