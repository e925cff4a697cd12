"""The reconciler's keeper of warm pools: each template's pool at its target size.

Each pass (a reconciler job, :meth:`WarmPoolKeeper.run`), per template:

* the target is its ``warm`` field at this moment (a number or a schedule), or
  what the workshops ask of it now if that is more (``demand``, see
  :meth:`~moorage.services.workshops.WorkshopService.warm_demand`; the template's
  own ``warm`` is never changed); 0 for a disabled template or one whose image is
  absent;
* ``warm`` workspaces older than ``max_age_seconds``, started from another image
  id (the image was rebuilt or pulled again) or from other container settings
  are recycled; so are the newest ones above the target;
* ``starting`` rows whose server stopped beating, or that outlived twice the
  launch timeout, are dropped;
* missing ones are started, at most ``starts_at_once`` at a time, once claims have
  paused (:mod:`moorage.services.warm_bursts`).

Then, per environment, containers labelled ``moorage.warm`` that neither a warm
row (starting, warm, recycling) nor a live session owns are removed (a crash
between a start and its row, a deleted template, a removal Docker refused), and
claimed rows older than a day are forgotten.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.models.instance import ServerInstance
from moorage.models.lease import LIVE_STATES
from moorage.models.org import Org
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.warm import WarmState, WarmWorkspace
from moorage.schemas.warm import warm_target
from moorage.services import placement
from moorage.services.warm_pools import WARM_LABEL, WarmPools, spec_hash

__all__ = ["WarmPoolKeeper"]

log = logging.getLogger(__name__)

CLAIMED_KEPT = timedelta(days=1)
"""How long a claimed row is kept (it counts claims on the templates page)."""


class WarmPoolKeeper:
    """Keeps every template's warm pool at its target; see the module docstring.

    Args:
        sessionmaker: opens database sessions.
        drivers: the per-environment drivers.
        pools: starts and recycles warm workspaces.
        max_age_seconds: a warm workspace older than this is recycled.
        starts_at_once: how many warm workspaces start concurrently.
        instance_ttl_seconds: a server instance silent this long is dead.
        launch_timeout_seconds: a start taking twice this long is dropped.
        demand: warm workspaces asked by template id besides the templates' own
            ``warm`` (the workshops'); called once per pass.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        pools: WarmPools,
        *,
        max_age_seconds: float,
        starts_at_once: int = 4,
        instance_ttl_seconds: float = 30.0,
        launch_timeout_seconds: float = 60.0,
        demand: Callable[[], Awaitable[dict[str, int]]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._demand = demand
        self._drivers = drivers
        self._pools = pools
        self._max_age = timedelta(seconds=max_age_seconds)
        self._starts = asyncio.Semaphore(max(1, starts_at_once))
        self._instance_ttl = timedelta(seconds=instance_ttl_seconds)
        self._start_timeout = timedelta(seconds=launch_timeout_seconds * 2)
        self._clock = clock
        self.targets: dict[str, int] = {}
        """The last pass's target by template name."""
        self._down: set[str] = set()

    async def run(self) -> None:
        """One pass over every template's pool, then the sweep of orphan containers."""
        async with self._sessionmaker() as db:
            templates = list(await db.scalars(select(Template)))
            environments: dict[str, list[Environment]] = {}
            for env in await db.scalars(select(Environment)):
                environments.setdefault(env.org_id, []).append(env)
        demand = await self._demand() if self._demand is not None else {}
        for template in templates:
            # Warm workspaces start on the oldest environment a launch may use
            # (active, labels matching); cordoning it moves them on their next cycle.
            where = placement.eligible(environments.get(template.org_id, []), template)
            try:
                await self._keep(template, where[0] if where else None, demand.get(template.id, 0))
            except MoorageError as exc:
                log.warning("warm pool %s: %s", template.name, exc.message)
        await self._sweep()

    async def _keep(
        self, template: Template, environment: Environment | None, demand: int = 0
    ) -> None:
        now = self._clock()
        target = max(warm_target(template.warm, now), demand) if template.enabled else 0
        async with self._sessionmaker() as db:
            rows = list(
                await db.scalars(
                    select(WarmWorkspace)
                    .where(
                        WarmWorkspace.template_id == template.id,
                        WarmWorkspace.state.in_((WarmState.STARTING.value, WarmState.WARM.value)),
                    )
                    .order_by(WarmWorkspace.created_at)
                )
            )
            alive = set(
                await db.scalars(
                    select(ServerInstance.id).where(
                        ServerInstance.heartbeat_at >= now - self._instance_ttl
                    )
                )
            )
        image_id: str | None = None
        if environment is not None and (target or rows):
            image_id = await self._drivers.get(environment).image_id(template.image)
        if image_id is None:
            target = 0  # nothing can start; what runs stays until it is stale
        self.targets[template.name] = target
        digest = spec_hash(template)
        kept: list[WarmWorkspace] = []
        for row in rows:
            if row.state == WarmState.STARTING.value:
                if row.instance_id not in alive or now - row.created_at > self._start_timeout:
                    await self._drop_starting(row.id)
                else:
                    kept.append(row)
                continue
            stale = (
                now - row.created_at > self._max_age
                or row.spec_hash != digest
                or (image_id is not None and row.image_id != image_id)
                or row.environment_id != (environment.id if environment else None)
            )
            if stale:
                await self._pools.recycle(row.id)
            else:
                kept.append(row)
        surplus = len(kept) - target
        for row in reversed(kept):  # the newest first: the oldest are claimed first
            if surplus <= 0:
                break
            if row.state == WarmState.WARM.value and await self._pools.recycle(row.id):
                surplus -= 1
        missing = target - len(kept)
        if missing > 0 and environment is not None:
            await asyncio.gather(*(self._start(template, environment) for _ in range(missing)))

    async def _start(self, template: Template, environment: Environment) -> None:
        async with self._starts:
            await self._pools.claims.pause()
            await self._pools.start_one(template, environment)

    async def _drop_starting(self, warm_id: str) -> None:
        """Forget a start cut off by a crash; its container, if any, is swept."""
        async with write_session(self._sessionmaker) as db:
            await db.execute(
                delete(WarmWorkspace).where(
                    WarmWorkspace.id == warm_id, WarmWorkspace.state == WarmState.STARTING.value
                )
            )

    async def _sweep(self) -> None:
        async with self._sessionmaker() as db:
            environments = list(await db.scalars(select(Environment)))
            our_orgs = set(await db.scalars(select(Org.id)))
        for environment in environments:
            try:
                driver = self._drivers.get(environment)
                containers = await driver.list_workspaces(WARM_LABEL)
            except MoorageError as exc:
                if environment.name not in self._down:
                    self._down.add(environment.name)
                    log.warning("warm pools: %s is unreachable: %s", environment.name, exc.message)
                continue
            self._down.discard(environment.name)
            if not containers:
                continue
            # Read after listing: a start writes its row before its container, a claim
            # its session in the transaction that claims, so every listed container
            # whose owner still exists is seen owned here.
            async with self._sessionmaker() as db:
                owned = set(
                    await db.scalars(
                        select(WarmWorkspace.id).where(
                            WarmWorkspace.state != WarmState.CLAIMED.value
                        )
                    )
                )
                owned |= set(
                    await db.scalars(
                        select(WorkspaceSession.id).where(WorkspaceSession.state.in_(LIVE_STATES))
                    )
                )
            for container in containers:
                if container.labels.get("moorage.org") not in our_orgs:
                    continue  # another installation sharing this engine
                if container.labels.get(WARM_LABEL, "") in owned:
                    continue
                log.info("removing orphan warm container %s", container.name)
                try:
                    await driver.remove(container.id)
                except MoorageError as exc:
                    log.warning("could not remove %s: %s", container.name, exc.message)
        async with write_session(self._sessionmaker) as db:
            await db.execute(
                delete(WarmWorkspace).where(
                    WarmWorkspace.state == WarmState.CLAIMED.value,
                    WarmWorkspace.claimed_at < self._clock() - CLAIMED_KEPT,
                )
            )
