"""Start and stop what a Moorage process holds: database, drivers, services, reconciler.

``moorage serve`` opens it in the ASGI lifespan; ``moorage worker`` opens it
alone to run the reconciler for deployments with several API replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.config import Settings
from moorage.context import Context
from moorage.db.base import new_id, utcnow
from moorage.db.engine import create_engine, create_sessionmaker
from moorage.db.migrate import upgrade
from moorage.drivers.docker import DockerDriver, docker_client
from moorage.drivers.docker.agent_tunnel import AgentConnections, AgentTunnel, parse_agent_url
from moorage.drivers.docker.ssh_tunnel import SSHTunnel, parse_ssh_url
from moorage.drivers.docker.swarm import SwarmDriver
from moorage.drivers.docker.tls import SSH_KEY_CONTEXT, tls_context
from moorage.drivers.machines import MachineConnector
from moorage.drivers.pool import DriverFactory, DriverPool
from moorage.drivers.ssh import SSHConnector
from moorage.errors import Conflict, RuntimeUnavailable
from moorage.models.environment import SWARM, Environment
from moorage.reconciler.idle import IdleSessions
from moorage.reconciler.leader import heartbeat
from moorage.reconciler.loop import Reconciler
from moorage.reconciler.reservations import MachineProber, ReservationKeeper
from moorage.reconciler.sessions import SessionKeeper
from moorage.reconciler.warm_pools import WarmPoolKeeper
from moorage.security.crypto import Keyring, load_keyring
from moorage.services.bootstrap import bootstrap
from moorage.services.docker import DockerServices, EnvironmentStatus
from moorage.services.fleet import defaults as fleet_defaults
from moorage.services.fleet.actions import expire_action_runs
from moorage.services.fleet.alerts import AlertEvaluator
from moorage.services.fleet.ingest import Ingest
from moorage.services.fleet.nodes import mark_offline
from moorage.services.fleet.rollup import Rollup
from moorage.services.ldap_sync import DirectorySync
from moorage.services.provisioning import Provisioner
from moorage.services.recordings import RecordingService
from moorage.services.reservations import ReservationService
from moorage.services.sessions import SessionService
from moorage.services.shares import ShareService
from moorage.services.warm_pools import WarmPools
from moorage.services.workshops import WorkshopService

__all__ = ["docker_factory", "open_context"]


CLAIMS_QUIET_SECONDS = 1.5
"""A warm pool's refill starts once its process made no claim for this long."""


def docker_factory(
    settings: Settings, keyring: Keyring, agents: AgentConnections | None = None
) -> DriverFactory:
    """Builds a :class:`DockerDriver` per environment from its URL and, for TCP
    endpoints with TLS material, a client certificate context; ``agent://``
    environments ride on the tunnels in ``agents``; for an environment of kind
    ``swarm``, a :class:`SwarmDriver` over the same transport."""

    def engine(environment: Environment) -> DockerDriver:
        if environment.transport == "ssh":
            return _ssh_driver(environment, settings, keyring)
        if environment.transport == "agent":
            return _agent_driver(environment, settings, agents or AgentConnections())
        ssl_context = tls_context(environment, keyring, settings.data_dir)
        client = docker_client(
            environment.url, settings.docker_timeout_seconds, ssl_context=ssl_context
        )
        return DockerDriver(client, environment.url)

    def factory(environment: Environment) -> DockerDriver:
        driver = engine(environment)
        if environment.kind == SWARM:
            return SwarmDriver.over(driver, settings.swarm_publish_mode)
        return driver

    return factory


def _ssh_driver(environment: Environment, settings: Settings, keyring: Keyring) -> DockerDriver:
    """A driver over an :class:`SSHTunnel`.

    Raises:
        RuntimeUnavailable: the environment has no SSH key or pinned host key (the API
            refuses to save one so; a row edited by hand could be).
    """
    if not (environment.ssh_key_sealed and environment.ssh_host_key):
        raise RuntimeUnavailable(
            f"environment {environment.name} has no SSH key or pinned host key; save it "
            "again with ssh_private_key"
        )
    tunnel = SSHTunnel(
        parse_ssh_url(environment.url),
        keyring.open(environment.ssh_key_sealed, SSH_KEY_CONTEXT),
        environment.ssh_host_key,
    )
    client = docker_client(tunnel.url, settings.docker_timeout_seconds)
    return DockerDriver(client, environment.url, transport=tunnel)


def _agent_driver(
    environment: Environment, settings: Settings, agents: AgentConnections
) -> DockerDriver:
    """A driver over the tunnel of the environment's node's agent."""
    node, socket_path = parse_agent_url(environment.url)
    tunnel = AgentTunnel(agents, environment.org_id, node, socket_path)
    client = docker_client(tunnel.url, settings.docker_timeout_seconds)
    return DockerDriver(client, environment.url, transport=tunnel)


def _add_fleet_jobs(
    reconciler: Reconciler,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    keyring: Keyring,
    ingest: Ingest,
) -> None:
    """Offline marking (every 5 s), alert evaluation and roll-ups with retention."""
    ttl = timedelta(seconds=settings.fleet_ttl_seconds)

    async def offline() -> None:
        if await mark_offline(sessionmaker, ttl):
            await ingest.bump()
        await expire_action_runs(sessionmaker)

    rollup = Rollup(
        sessionmaker,
        raw_retention=timedelta(hours=settings.fleet_raw_retention_hours),
        minute_retention=timedelta(days=settings.fleet_minute_retention_days),
        hour_retention=timedelta(days=settings.fleet_hour_retention_days),
    )
    alerts = AlertEvaluator(sessionmaker, keyring, ttl=ttl)
    reconciler.add_job("fleet-offline", min(5.0, settings.fleet_ttl_seconds / 4), offline)
    reconciler.add_job("fleet-alerts", settings.fleet_alert_interval_seconds, alerts.run)
    reconciler.add_job("fleet-rollup", 60, rollup.run)


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on the data directory for the life of the process.

    With SQLite only one process may use a data directory; the lock also tells
    the reconciler that every other server instance recorded there is dead.

    Raises:
        Conflict: another process holds the lock.
    """
    handle = open(data_dir / "moorage.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise Conflict(
            f"another Moorage process is using {data_dir}", code="data_dir_locked"
        ) from exc
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


async def _heartbeats(
    sessionmaker: async_sessionmaker[AsyncSession], instance_id: str, every_seconds: float
) -> None:
    """Keep this instance alive in the database when it runs no reconciler (whose
    passes otherwise write the heartbeat): without it, a `moorage worker` took this
    server's launches in progress for a dead instance's and removed their containers."""
    while True:
        try:
            await heartbeat(sessionmaker, instance_id, utcnow())
        except Exception:  # the database is away for a moment: try again next time
            logging.getLogger(__name__).warning("heartbeat failed", exc_info=True)
        await asyncio.sleep(every_seconds)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def open_context(
    settings: Settings,
    *,
    driver_factory: DriverFactory | None = None,
    connector: MachineConnector | None = None,
    run_reconciler: bool = True,
    announce: Callable[[str], None] = print,
) -> AsyncIterator[Context]:
    """Migrate the database, run first-start set-up, build the services and (when
    ``run_reconciler``) start the reconciler; undo it all on exit.

    Raises:
        Conflict: the SQLite data directory is in use by another process.
    """
    async with AsyncExitStack() as stack:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        keyring = load_keyring(
            settings.data_dir,
            settings.secret_key.get_secret_value() if settings.secret_key else None,
            settings.old_secret_keys.get_secret_value() if settings.old_secret_keys else None,
        )
        agents = AgentConnections(settings.data_dir / "tunnels")
        stack.callback(agents.close)
        factory = driver_factory or docker_factory(settings, keyring, agents)
        if settings.is_sqlite:
            stack.callback(_lock_data_dir(settings.data_dir).close)
        engine = create_engine(settings.resolved_database_url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        local = factory(Environment(id="bootstrap", name="local", url=settings.docker_url))
        try:
            await bootstrap(sessionmaker, settings, local, announce=announce)
        finally:
            await local.close()
        await fleet_defaults.apply_defaults(sessionmaker, settings, keyring)

        http_client = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=None),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        stack.push_async_callback(http_client.close)
        drivers = DriverPool(factory)
        stack.push_async_callback(drivers.close)
        instance_id = new_id()
        sessions = SessionService(
            sessionmaker,
            drivers,
            instance_id=instance_id,
            keyring=keyring,
            launch_timeout_seconds=settings.launch_timeout_seconds,
            publish_address=settings.publish_address,
        )
        sessions.activity.start(min(5.0, settings.reconcile_interval_seconds))
        stack.push_async_callback(sessions.activity.stop)
        recordings = RecordingService(sessionmaker, settings.data_dir)
        warm_pools = WarmPools(
            sessionmaker,
            drivers,
            keyring=keyring,
            instance_id=instance_id,
            launch_timeout_seconds=settings.launch_timeout_seconds,
            publish_address=settings.publish_address,
            claims_quiet_seconds=CLAIMS_QUIET_SECONDS,
        )
        sessions.warm_pools = warm_pools
        connector = connector or SSHConnector(
            connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
            command_timeout_seconds=settings.ssh_command_timeout_seconds,
            connections_per_host=settings.ssh_connections_per_host,
        )
        reservations = ReservationService(sessionmaker, connector, keyring, instance_id=instance_id)
        shares = ShareService(sessionmaker, keyring)
        directory_sync = DirectorySync(sessionmaker, keyring)
        workshops = WorkshopService(
            sessionmaker, sessions, shares, login_ttl_hours=settings.login_ttl_hours
        )
        # A session that ends loses its live connections (owners' and guests') at once.
        sessions.add_deadline_listener(shares.connections.deadline_changed)
        prober = MachineProber(sessionmaker, connector, keyring)
        environment_status = EnvironmentStatus(sessionmaker, drivers)
        ingest = Ingest(
            sessionmaker,
            raw_retention_seconds=settings.fleet_raw_retention_hours * 3600,
            flush_seconds=settings.fleet_ingest_flush_seconds,
        )
        ingest.start()
        stack.push_async_callback(ingest.stop)
        docker = DockerServices(
            sessionmaker,
            drivers,
            keyring,
            settings.data_dir,
            environment_status,
            git_allow_file_urls=settings.git_allow_file_urls,
        )
        stack.push_async_callback(docker.git_stacks.close)
        reconciler = None
        if run_reconciler:
            reconciler = Reconciler(
                sessionmaker,
                instance_id=instance_id,
                interval_seconds=settings.reconcile_interval_seconds,
            )
            reconciler.add_keeper(
                SessionKeeper(
                    sessionmaker,
                    drivers,
                    sessions,
                    instance_id=instance_id,
                    instance_ttl_seconds=settings.instance_ttl_seconds,
                    launch_timeout_seconds=settings.launch_timeout_seconds,
                    exclusive=settings.is_sqlite,
                )
            )
            sessions.add_deadline_listener(reconciler.deadline_listener(SessionKeeper.kind))
            reconciler.add_keeper(
                ReservationKeeper(
                    sessionmaker,
                    reservations,
                    instance_id=instance_id,
                    instance_ttl_seconds=settings.instance_ttl_seconds,
                    provision_timeout_seconds=settings.ssh_command_timeout_seconds * 4,
                    exclusive=settings.is_sqlite,
                )
            )
            reservations.add_deadline_listener(reconciler.deadline_listener(ReservationKeeper.kind))
            reconciler.add_job("probe-machines", settings.probe_interval_seconds, prober.run)
            reconciler.add_job("environment-status", 15, environment_status.run)
            idle = IdleSessions(sessionmaker, drivers, sessions)
            reconciler.add_job("idle-sessions", settings.reconcile_interval_seconds, idle.run)
            reconciler.add_job("recording-retention", 3600, recordings.run_retention)
            _add_fleet_jobs(reconciler, sessionmaker, settings, keyring, ingest)
            reconciler.add_job("image-updates", 30, docker.image_updates.run_due)
            # Each stack is due by its own poll_seconds (at least 60); this finds them.
            reconciler.add_job("git-stacks", 10, docker.git_stacks.poll)
            warm_keeper = WarmPoolKeeper(
                sessionmaker,
                drivers,
                warm_pools,
                max_age_seconds=settings.warm_max_age_minutes * 60,
                starts_at_once=settings.warm_starts_at_once,
                instance_ttl_seconds=settings.instance_ttl_seconds,
                launch_timeout_seconds=settings.launch_timeout_seconds,
                demand=workshops.warm_demand,
            )
            reconciler.add_job("warm-pools", settings.warm_interval_seconds, warm_keeper.run)
            reconciler.add_job("workshops", settings.reconcile_interval_seconds, workshops.run)
            # Each directory is due by its own sync_interval_minutes; this finds them.
            reconciler.add_job("ldap-sync", 60, directory_sync.run_due)
            await reconciler.start()
            stack.push_async_callback(reconciler.stop)
        else:
            beat = asyncio.create_task(
                _heartbeats(sessionmaker, instance_id, min(5.0, settings.instance_ttl_seconds / 3))
            )
            stack.push_async_callback(_stop, beat)
        yield Context(
            settings,
            engine,
            sessionmaker,
            drivers,
            sessions,
            reconciler,
            instance_id,
            keyring,
            connector,
            reservations,
            prober,
            Provisioner(sessionmaker, keyring, settings.data_dir),
            http_client,
            environment_status,
            ingest,
            docker,
            shares,
            recordings,
            warm_pools,
            workshops,
            directory_sync,
            agents,
        )
