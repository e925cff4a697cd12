"""One check of an image update policy, and the update it may lead to (see
:mod:`.image_updates` for the statuses and what each policy does)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.drivers.pool import DriverPool
from moorage.drivers.registry import RegistryClient, RegistryLogin
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.models.image_update import ImageUpdatePolicy
from moorage.security.crypto import Keyring
from moorage.services.audit import record
from moorage.services.docker._operation import docker_of
from moorage.services.docker.image_update_apply import (
    Finding,
    Health,
    apply_container,
    apply_stack,
    find,
    recover_interrupted,
    running_images,
)
from moorage.services.docker.registries import RegistryService
from moorage.services.docker.update_hooks import PreUpdateHook, UpdateCandidate, first_veto
from moorage.services.docker.update_rules import in_window, window_opens
from moorage.services.fleet.channels import broadcast

__all__ = ["PolicyCheck"]

log = logging.getLogger(__name__)


def _key(findings: list[Finding]) -> str | None:
    """One digest naming what a check found newer: the digest itself for one image, a
    SHA-256 of them all for several (a stack's)."""
    newer = sorted(f"{f.target}@{f.target_digest}" for f in findings if f.newer)
    if not newer:
        return None
    if len(newer) == 1:
        return newer[0].rpartition("@")[2]
    return "sha256:" + hashlib.sha256("\n".join(newer).encode()).hexdigest()


class PolicyCheck:
    """Runs one policy's check and what follows; the service keeps the bookkeeping.

    Args: as :class:`~moorage.services.docker.image_updates.ImageUpdateService`.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        registries: RegistryService,
        keyring: Keyring,
        data_dir: Path,
        registry: RegistryClient,
        hooks: list[PreUpdateHook],
        clock: Callable[[], datetime],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._drivers = drivers
        self._registries = registries
        self._keyring = keyring
        self._data_dir = data_dir
        self._registry = registry
        self.hooks = hooks
        self._clock = clock

    async def run(
        self, policy: ImageUpdatePolicy, environment: Environment, actor: str, source: str | None
    ) -> dict[str, Any]:
        """What a check found and did, as the policy's new field values."""
        try:
            driver = docker_of(self._drivers, environment)
            if policy.target_kind == "container":
                recovered = await recover_interrupted(driver, policy.target_name)
                if recovered:
                    verb = "image_rollback"
                    await self._record(policy, environment, actor, source, verb, recovered)
            references = await running_images(
                driver, environment, self._data_dir, policy.target_kind, policy.target_name
            )
            findings = []
            for reference, image_id in references:
                auth = await self._registries.auth_for(policy.org_id, reference)
                login = RegistryLogin(auth["username"], auth["password"]) if auth else None
                semver = policy.semver_range if policy.target_kind == "container" else None
                found = await find(driver, self._registry, reference, image_id, login, semver)
                findings.append(found)
        except MoorageError as exc:
            return {"status": "error", "message": exc.message}
        key = _key(findings)
        newer = [f for f in findings if f.newer]
        state: dict[str, Any] = {
            "current_digest": findings[0].current_digest if len(findings) == 1 else None,
            "available_digest": key,
            "available_tag": next((f.target for f in newer if f.target != f.reference), None),
            "message": None,
        }
        if key is None:
            return {**state, "status": "up_to_date"}
        what = ", ".join(f"{f.target} ({f.target_digest[:19]})" for f in newer)
        label = f"{policy.target_kind} {policy.target_name} on {environment.name}"
        if policy.policy == "notify":
            if policy.notified_digest != key:
                await self._notify(policy, f"Image update available for {label}", what)
            return {
                **state,
                "status": "update_available",
                "notified_digest": key,
                "message": f"newer: {what}",
            }
        if key == policy.rejected_digest:
            return {
                **state,
                "status": "rejected",
                "message": f"{what} was rolled back before; waiting for a newer one",
            }
        now = self._clock()
        if not in_window(policy.window_schedule, policy.window_minutes, now):
            assert policy.window_schedule is not None
            opens = window_opens(policy.window_schedule, now).isoformat()
            return {
                **state,
                "status": "waiting_for_window",
                "message": f"newer: {what}; the maintenance window opens at {opens}",
            }
        return {**state, **await self._update(policy, environment, newer, actor, source, label)}

    async def _update(
        self,
        policy: ImageUpdatePolicy,
        environment: Environment,
        newer: list[Finding],
        actor: str,
        source: str | None,
        label: str,
    ) -> dict[str, Any]:
        kind, name = policy.target_kind, policy.target_name
        key = _key(newer)
        what = ", ".join(f"{f.target} ({f.target_digest[:19]})" for f in newer)
        candidate = UpdateCandidate(
            environment.name, kind, name, tuple((f.target, f.target_digest) for f in newer)
        )
        veto = await first_veto(self.hooks, candidate)
        if veto:
            await self._record(policy, environment, actor, source, "image_update_vetoed", veto)
            await self._notify(policy, f"Image update of {label} vetoed", veto)
            return {"status": "vetoed", "message": veto}
        driver = docker_of(self._drivers, environment)
        health = Health(policy.health_timeout_seconds, policy.stable_seconds)
        auths = {f.target: await self._registries.auth_for(policy.org_id, f.target) for f in newer}
        try:
            if kind == "container":
                first = newer[0]
                reason = await apply_container(driver, name, first, auths[first.target], health)
            else:
                reason = await apply_stack(
                    driver, environment, self._data_dir, name, newer, auths, health
                )
        except MoorageError as exc:
            return {"status": "error", "message": f"update to {what} failed: {exc.message}"}
        if reason is not None:
            detail = f"{what}: {reason}; rolled back"
            await self._record(policy, environment, actor, source, "image_rollback", detail)
            await self._notify(policy, f"Image update of {label} rolled back", detail)
            return {"status": "rolled_back", "message": detail, "rejected_digest": key}
        previous = ", ".join(f"{f.reference} ({(f.current_digest or '?')[:19]})" for f in newer)
        detail = f"{previous} → {what}"
        await self._record(policy, environment, actor, source, "image_update", detail)
        await self._notify(policy, f"Image of {label} updated", detail)
        return {
            "status": "updated",
            "message": detail,
            "current_digest": newer[0].target_digest if kind == "container" else None,
            "available_digest": None,
            "available_tag": None,
            "updated_at": self._clock(),
        }

    async def _record(
        self,
        policy: ImageUpdatePolicy,
        environment: Environment,
        actor: str,
        source: str | None,
        verb: str,
        detail: str,
    ) -> None:
        async with write_session(self._sessionmaker) as db:
            record(
                db,
                policy.org_id,
                actor,
                f"{policy.target_kind}.{verb}",
                policy.target_kind,
                policy.target_name,
                environment=environment.name,
                detail=detail,
                source=source,
            )

    async def _notify(self, policy: ImageUpdatePolicy, title: str, body: str) -> None:
        kind = "warning" if "rolled back" in title or "vetoed" in title else "info"
        try:
            await broadcast(
                self._sessionmaker, self._keyring, policy.org_id, f"Moorage: {title}", body, kind
            )
        except Exception:  # a notification must not undo what was done
            log.exception("image update notification failed")
