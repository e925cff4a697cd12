"""Warm pools: workspaces started ahead from a template, claimed by launches.

A template whose ``warm`` field asks for N keeps N containers started, each a
:class:`~moorage.models.warm.WarmWorkspace` row (``starting → warm``). Their
lifecycle:

* **start** (:meth:`WarmPools.start_one`, called by the reconciler's
  :mod:`~moorage.reconciler.warm_pools`): the row is written ``starting`` first,
  then the container is created with the row's id as its session id (its name
  ``moorage-<id>``, its ``moorage.session`` label, a web app's base URL
  ``/s/<id>/``), the kind's throwaway secret, and the label
  :data:`WARM_LABEL`; once the kind says it is usable the row becomes ``warm``.
* **claim** (:meth:`WarmPools.claim`, inside the launch's transaction): a
  guarded ``UPDATE … SET state='claimed' … AND state='warm'`` says who won
  (:mod:`moorage.services.warm_claim`). The launch then inserts its session with
  the same id in that transaction, so a warm workspace goes to one person, and a ``claimed`` row is
  never warm again: never reused after its session ends.
* **recycle** (:meth:`WarmPools.recycle`): ``warm → recycling`` by the same
  guarded UPDATE (so a claim and a recycle never both win), the container
  removed, the row deleted.

Nothing of a person is on a warm workspace: no owner, no deadline, no secret
anyone was told. What a claim sets, and how, is the kind's
(:meth:`~moorage.services.kinds.WorkspaceKind.hand_over`): owner, deadline
(the lease starts at the claim) and labels on the session row; account and VNC
passwords replaced in the container. Docker labels cannot change after
creation, so a warm container carries no ``moorage.user`` or
``moorage.expires_at`` label; the session row is the record of both.

Before its claim no route reaches a warm workspace: every gateway (terminal,
desktop, ``/s/<id>/``) looks its id up among sessions, and there is none yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.drivers.base import ContainerDriver, WorkspaceSpec
from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.models.template import Template
from moorage.models.warm import WarmState, WarmWorkspace
from moorage.schemas.warm import warm_target
from moorage.security.crypto import Keyring
from moorage.security.passwords import generate_password
from moorage.services.kinds import StartedWorkspace, kind_for

# The sealed start-up secret moves to the session at the claim: same keyring context.
from moorage.services.session_power import SECRET_CONTEXT
from moorage.services.warm_bursts import ClaimBursts
from moorage.services.warm_claim import Claimed, claim_oldest

__all__ = ["WARM_LABEL", "Claimed", "WarmPools", "spec_hash", "warm_labels"]

log = logging.getLogger(__name__)

WARM_LABEL = "moorage.warm"
"""Label key (value: the warm workspace's id) of every container a pool started. The
sessions' keeper leaves such a container alone until a session owns it; the warm
pools' keeper removes it once neither a warm row nor a live session does."""


def spec_hash(template: Template) -> str:
    """A digest of the template's settings that shape a container (image, kind,
    account, port, limits): a warm workspace started under another digest is recycled."""
    fields = [
        template.image,
        template.kind,
        template.shell_user,
        template.port,
        template.cpu_limit,
        template.memory_limit_mb,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


def warm_labels(warm_id: str, template: Template) -> dict[str, str]:
    """Docker labels of a warm container: the session id it will have, org, template,
    limits and :data:`WARM_LABEL` (no user, no deadline: nobody holds it yet)."""
    return {
        "moorage.session": warm_id,
        "moorage.org": template.org_id,
        "moorage.template": template.name,
        "moorage.cpu_limit": f"{template.cpu_limit:g}",
        "moorage.memory_limit_mb": str(template.memory_limit_mb),
        WARM_LABEL: warm_id,
    }


WarmReady = Callable[[str, Template, ContainerDriver, str], Awaitable[None]]
"""Told ``(warm id, template, driver, container id)`` of a usable warm workspace before
it can be claimed (:func:`moorage.gateway.terminal_spares.spare_shells`); never raises."""
WarmGone = Callable[[str], Awaitable[None]]
"""Told the id of a warm workspace recycled or abandoned; never raises."""


class WarmPools:
    """Starts, claims and recycles warm workspaces.

    Args:
        sessionmaker: opens database sessions.
        drivers: the per-environment drivers.
        keyring: seals the start-up secrets.
        instance_id: this server process's id, stamped on rows it is starting.
        launch_timeout_seconds: how long a container may take to become usable.
        publish_address: host address the workspaces' ports are published on.
        claims_quiet_seconds: refills wait until no claim was made in this process
            for this long (:attr:`claims`); 0 to start at once.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        *,
        keyring: Keyring,
        instance_id: str,
        launch_timeout_seconds: float = 60.0,
        publish_address: str = "127.0.0.1",
        claims_quiet_seconds: float = 0.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.on_ready: WarmReady | None = None  # set by a server with a gateway
        self.on_gone: WarmGone | None = None
        self.claims = ClaimBursts(claims_quiet_seconds)
        """When this process last claimed; the keeper's refills wait for a pause."""
        self._drivers = drivers
        self._keyring = keyring
        self._instance_id = instance_id
        self._launch_timeout = launch_timeout_seconds
        self._publish_address = publish_address
        self._clock = clock
        self.started_total = 0
        self.failed_total = 0
        self.recycled_total = 0

    # -- claiming ------------------------------------------------------------

    async def claim(self, db: AsyncSession, template: Template) -> Claimed | None:
        """Claim a warm workspace of ``template`` in the caller's write transaction
        (the caller inserts the session with the returned id before committing);
        None when none is free: the oldest free one (:mod:`moorage.services.warm_claim`).
        """
        claimed = await claim_oldest(db, template, self._clock())
        if claimed is not None:
            self.claims.claimed()
        return claimed

    # -- starting --------------------------------------------------------------

    async def start_one(self, template: Template, environment: Environment) -> str | None:
        """Start one warm workspace of ``template`` on ``environment`` and return its
        id once it is ``warm``; None when it failed (logged; nothing is left
        behind: the container is removed and the row deleted)."""
        driver = self._drivers.get(environment)
        kind = kind_for(template.kind)
        warm_id = new_id()
        digest = spec_hash(template)
        try:
            image_id = await driver.image_id(template.image)
        except MoorageError as exc:
            log.warning("warm pool %s: %s", template.name, exc.message)
            return None
        if image_id is None:
            return None
        async with write_session(self._sessionmaker) as db:
            db.add(
                WarmWorkspace(
                    id=warm_id,
                    org_id=template.org_id,
                    template_id=template.id,
                    environment_id=environment.id,
                    state=WarmState.STARTING.value,
                    image_id=image_id,
                    spec_hash=digest,
                    instance_id=self._instance_id,
                    created_at=self._clock(),
                )
            )
        setup = kind.environment(template, warm_id, generate_password(16))
        container_id: str | None = None
        try:
            spec = WorkspaceSpec(
                name=f"moorage-{warm_id}",
                image=template.image,
                labels=warm_labels(warm_id, template),
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
            await kind.wait_ready(
                StartedWorkspace(
                    driver=driver,
                    container=container,
                    template=template,
                    session_id=warm_id,
                    publish_address=self._publish_address,
                    secret=setup.secret,
                ),
                self._launch_timeout,
            )
            if self.on_ready is not None:
                await self.on_ready(warm_id, template, driver, container.id)
            sealed = self._keyring.seal(setup.secret, SECRET_CONTEXT) if setup.secret else None
            async with write_session(self._sessionmaker) as db:
                done = await db.execute(
                    update(WarmWorkspace)
                    .where(
                        WarmWorkspace.id == warm_id,
                        WarmWorkspace.state == WarmState.STARTING.value,
                    )
                    .values(
                        state=WarmState.WARM.value,
                        container_id=container.id,
                        ports={str(k): v for k, v in container.ports.items()} or None,
                        secret_sealed=sealed,
                        ready_at=self._clock(),
                        instance_id=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            if getattr(done, "rowcount", 0) != 1:
                raise MoorageError("the warm workspace was dropped while it started")
        except BaseException as exc:
            await asyncio.shield(self._abandon(warm_id, environment, container_id))
            if not isinstance(exc, MoorageError):
                raise
            self.failed_total += 1
            log.warning("warm pool %s: a workspace failed to start: %s", template.name, exc)
            return None
        self.started_total += 1
        return warm_id

    async def _abandon(
        self, warm_id: str, environment: Environment, container_id: str | None
    ) -> None:
        """Remove a warm workspace that did not start (its container, then its row)."""
        if self.on_gone is not None:
            await self.on_gone(warm_id)
        if container_id is not None:
            try:
                await self._drivers.get(environment).remove(container_id)
            except MoorageError as exc:
                log.warning("could not remove warm container %s: %s", warm_id, exc.message)
        async with write_session(self._sessionmaker) as db:
            await db.execute(
                delete(WarmWorkspace).where(
                    WarmWorkspace.id == warm_id, WarmWorkspace.state != WarmState.CLAIMED.value
                )
            )

    # -- recycling -------------------------------------------------------------

    async def recycle(self, warm_id: str) -> bool:
        """Take a ``warm`` workspace out of its pool and remove it. False when it was
        claimed (or gone) first: then it is a session's, untouched. A container
        Docker refused to remove is left to the keeper's sweep (its row is gone)."""
        async with write_session(self._sessionmaker) as db:
            taken = await db.execute(
                update(WarmWorkspace)
                .where(WarmWorkspace.id == warm_id, WarmWorkspace.state == WarmState.WARM.value)
                .values(state=WarmState.RECYCLING.value)
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) != 1:
                return False
            row = await db.get(WarmWorkspace, warm_id)
            assert row is not None
            container_id, environment = (
                row.container_id,
                await db.get(Environment, row.environment_id),
            )
        if self.on_gone is not None:
            await self.on_gone(warm_id)
        if container_id is not None and environment is not None:
            try:
                await self._drivers.get(environment).remove(container_id)
            except MoorageError as exc:
                log.warning("could not remove warm container %s: %s", warm_id, exc.message)
        async with write_session(self._sessionmaker) as db:
            await db.execute(delete(WarmWorkspace).where(WarmWorkspace.id == warm_id))
        self.recycled_total += 1
        return True

    # -- counting --------------------------------------------------------------

    async def counts(self, db: AsyncSession) -> dict[str, dict[str, int]]:
        """Warm workspaces by template name and state (``starting``, ``warm``,
        ``claimed``, ``recycling``), for the templates page and the reconciler's
        status; counted apart from leases (a claimed one is a session from then on)."""
        rows = await db.execute(
            select(Template.name, WarmWorkspace.state, func.count())
            .join(Template, Template.id == WarmWorkspace.template_id)
            .group_by(Template.name, WarmWorkspace.state)
        )
        result: dict[str, dict[str, int]] = {}
        for name, state, count in rows.all():
            result.setdefault(name, {})[state] = int(count)
        return result

    async def status(self, db: AsyncSession) -> dict[str, Any]:
        """Warm pools for operators, apart from leases: ``{"warm", "starting",
        "claimed_last_day", "started_total", "recycled_total", "failed_total",
        "templates": {name: {"target", "warm", "starting", "claimed_last_day"}}}``.
        Totals count since this process started; ``target`` is the template's
        ``warm`` at this moment (0 when disabled). Templates with neither a target
        nor rows are left out."""
        counts = await self.counts(db)
        now = self._clock()
        templates: dict[str, dict[str, int]] = {}
        for template in await db.scalars(select(Template).order_by(Template.name)):
            target = warm_target(template.warm, now) if template.enabled else 0
            by_state = counts.get(template.name, {})
            if not target and not by_state:
                continue
            templates[template.name] = {
                "target": target,
                "warm": by_state.get(WarmState.WARM.value, 0),
                "starting": by_state.get(WarmState.STARTING.value, 0),
                "claimed_last_day": by_state.get(WarmState.CLAIMED.value, 0),
            }
        return {
            "warm": sum(t["warm"] for t in templates.values()),
            "starting": sum(t["starting"] for t in templates.values()),
            "claimed_last_day": sum(t["claimed_last_day"] for t in templates.values()),
            "started_total": self.started_total,
            "recycled_total": self.recycled_total,
            "failed_total": self.failed_total,
            "templates": templates,
        }
