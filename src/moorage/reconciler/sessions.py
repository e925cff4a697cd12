"""The reconciler's keeper of sessions: containers against rows, in both directions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.drivers.base import ContainerDriver, WorkspaceContainer, WorkspaceNetwork
from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.models.lease import LIVE_STATES, TIMED_STATES, LeaseState
from moorage.models.org import Org
from moorage.models.session import WorkspaceSession
from moorage.reconciler.keeper import Schedule, ServiceKeeper
from moorage.services.sessions import ORG_LABEL, SESSION_LABEL, SessionService
from moorage.services.warm_pools import WARM_LABEL

__all__ = ["SessionKeeper"]

log = logging.getLogger(__name__)

RUNNING_STATES = {"created", "running", "restarting", "paused"}


class SessionKeeper(ServiceKeeper[WorkspaceSession]):
    """Per environment: containers and networks labelled ``moorage.session`` that no
    live session owns are removed (only those whose ``moorage.org`` is one of this
    installation's orgs: several installations may share an engine). Workspaces
    share one network per engine (labelled ``moorage.workspaces``, never swept);
    the networks swept are the per-session bridges earlier versions created, kept
    while their session lives and removed once it ends. Ready
    sessions whose container vanished or stopped are failed; a ``stopped``
    session's container may be in any state (stopped, or running while a start
    is under way) but must exist; launches cut off by a crash are failed and
    their container removed; refused releases are retried.
    """

    kind = "session"
    interrupted_error = "the launch was interrupted"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        sessions: SessionService,
        *,
        instance_id: str,
        instance_ttl_seconds: float,
        launch_timeout_seconds: float,
        exclusive: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            sessionmaker,
            sessions,
            instance_id=instance_id,
            instance_ttl_seconds=instance_ttl_seconds,
            provision_timeout_seconds=launch_timeout_seconds,
            exclusive=exclusive,
            clock=clock,
        )
        self._drivers = drivers
        self.down: set[str] = set()
        """Names of environments that did not answer the last pass."""

    async def reconcile(self, schedule: Schedule) -> None:
        async with self._sessionmaker() as db:
            environments = list(await db.scalars(select(Environment)))
        for environment in environments:
            await self._reconcile_environment(environment, schedule)

    async def _reconcile_environment(self, environment: Environment, schedule: Schedule) -> None:
        try:
            driver = self._drivers.get(environment)
            containers = await driver.list_workspaces(SESSION_LABEL)
            networks = await driver.list_networks(SESSION_LABEL)
        except MoorageError as exc:
            if environment.name not in self.down:
                self.down.add(environment.name)
                log.warning("environment %s is unreachable: %s", environment.name, exc.message)
            await self._schedule_ready(environment, schedule)  # deadlines still fire and retry
            return
        if environment.name in self.down:
            self.down.discard(environment.name)
            log.info("environment %s is reachable again", environment.name)

        # Rows are read after the containers and networks are listed: a launch commits
        # its row before it creates its container, so every listed one's row is visible.
        live, alive, now = await self.live_leases(WorkspaceSession.environment_id == environment.id)
        async with self._sessionmaker() as db:
            our_orgs = set(await db.scalars(select(Org.id)))
        live_by_id = {session.id: session for session in live}
        # Two environments may reach one engine (its socket, and TCP on loopback): a
        # container of a session live on the other one is that one's, not an orphan.
        elsewhere = await self._live_elsewhere(
            {c.labels.get(SESSION_LABEL, "") for c in containers}
            | {n.labels.get(SESSION_LABEL, "") for n in networks},
            set(live_by_id),
        )
        by_session: dict[str, WorkspaceContainer] = {}
        for container in containers:
            if container.labels.get(ORG_LABEL) not in our_orgs:
                continue  # another Moorage installation sharing this engine owns it
            owner = container.labels.get(SESSION_LABEL, "")
            if owner not in live_by_id and WARM_LABEL in container.labels:
                continue  # a warm workspace: the warm pools' keeper's until claimed
            if owner in elsewhere:
                continue
            if owner not in live_by_id:
                await self._remove_orphan(driver, container)
            else:
                by_session[owner] = container
        for network in networks:
            owner = network.labels.get(SESSION_LABEL, "")
            mine = owner not in live_by_id and owner not in elsewhere
            # A warm workspace's own network (a swarm's): the warm pools keeper's too.
            mine = mine and WARM_LABEL not in network.labels
            if network.labels.get(ORG_LABEL) in our_orgs and mine:
                await self._remove_orphan_network(driver, network)

        for session in live:
            found = by_session.get(session.id)
            if session.state == LeaseState.READY.value:
                if found is None or found.state not in RUNNING_STATES:
                    # The listing may predate a launch or a start that made the row ready.
                    found = await self._container_now(driver, session.id, found)
                if found is None:
                    await self._leases.fail(session.id, "the container vanished")
                    continue
                if found.state not in RUNNING_STATES:
                    await self._leases.fail(session.id, f"the container {found.state}")
                    continue
            elif session.state == LeaseState.STOPPED.value:
                if found is None:  # its disk is gone: it cannot be started again
                    await self._leases.fail(session.id, "the stopped container vanished")
                    continue
            elif (
                found is not None
                and session.container_id is None
                and self.is_cut_off(session, alive=alive, now=now)
            ):
                # Not yet on the row, so failing the session would not remove it.
                await self._remove_orphan(driver, found)
            await self.keep(session, schedule, alive=alive, now=now)

    async def _live_elsewhere(self, owners: set[str], here: set[str]) -> set[str]:
        """Those of ``owners`` (session ids from labels) that are live sessions of
        another environment."""
        others = [owner for owner in owners if owner and owner not in here]
        if not others:
            return set()
        async with self._sessionmaker() as db:
            query = select(WorkspaceSession.id).where(
                WorkspaceSession.id.in_(others), WorkspaceSession.state.in_(LIVE_STATES)
            )
            return set(await db.scalars(query))

    async def _container_now(
        self, driver: ContainerDriver, session_id: str, listed: WorkspaceContainer | None
    ) -> WorkspaceContainer | None:
        """The session's container as listed now; None when Docker has none; ``listed``
        (the pass's earlier listing) when Docker does not answer."""
        try:
            containers = await driver.list_workspaces(SESSION_LABEL)
        except MoorageError:
            return listed
        return next((c for c in containers if c.labels.get(SESSION_LABEL) == session_id), None)

    async def _schedule_ready(self, environment: Environment, schedule: Schedule) -> None:
        async with self._sessionmaker() as db:
            rows = await db.execute(
                select(WorkspaceSession.id, WorkspaceSession.expires_at).where(
                    WorkspaceSession.environment_id == environment.id,
                    WorkspaceSession.state.in_(TIMED_STATES),
                )
            )
            for session_id, expires_at in rows:
                schedule(session_id, expires_at)

    async def _remove_orphan(self, driver: ContainerDriver, container: WorkspaceContainer) -> None:
        log.info(
            "removing orphan container %s (session %s)",
            container.name,
            container.labels.get(SESSION_LABEL),
        )
        try:
            await driver.remove(container.id)
        except MoorageError as exc:
            log.warning("could not remove orphan %s: %s", container.name, exc.message)

    async def _remove_orphan_network(
        self, driver: ContainerDriver, network: WorkspaceNetwork
    ) -> None:
        log.info(
            "removing orphan network %s (session %s)",
            network.name,
            network.labels.get(SESSION_LABEL),
        )
        try:
            await driver.remove_network(network.id)
        except MoorageError as exc:
            log.warning("could not remove orphan network %s: %s", network.name, exc.message)
