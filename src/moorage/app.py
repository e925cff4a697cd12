"""The ASGI application: API, web UI and, in the embedded default, the reconciler."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

from fastapi import FastAPI

from moorage.api.errors import install_error_handlers
from moorage.api.v1 import router as api_router
from moorage.config import Settings
from moorage.context import Context
from moorage.db.base import new_id
from moorage.db.engine import create_engine, create_sessionmaker
from moorage.db.migrate import upgrade
from moorage.drivers.docker import DockerDriver, docker_client
from moorage.drivers.pool import DriverFactory, DriverPool
from moorage.errors import Conflict
from moorage.models.environment import Environment
from moorage.reconciler.loop import Reconciler
from moorage.services.bootstrap import bootstrap
from moorage.services.sessions import SessionService

__all__ = ["create_app", "docker_factory"]

log = logging.getLogger(__name__)


def docker_factory(settings: Settings) -> DriverFactory:
    """Builds a :class:`DockerDriver` per environment from its URL."""

    def factory(environment: Environment) -> DockerDriver:
        client = docker_client(environment.url, settings.docker_timeout_seconds)
        return DockerDriver(client, environment.url)

    return factory


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on the data directory for the life of the process.

    With SQLite only one server may use a data directory; the lock also tells
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
            f"another Moorage server is using {data_dir}", code="data_dir_locked"
        ) from exc
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def create_app(
    settings: Settings | None = None, *, driver_factory: DriverFactory | None = None, announce=print
) -> FastAPI:
    """The Moorage ASGI app.

    Args:
        settings: defaults to :class:`Settings` from the environment.
        driver_factory: builds a container driver per environment; the Docker
            driver by default, a fake in unit tests.
        announce: where first-start messages (the generated admin password) go.
    """
    settings = settings or Settings()
    factory = driver_factory or docker_factory(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock_data_dir(settings.data_dir) if settings.is_sqlite else None
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        drivers = DriverPool(factory)
        local = factory(Environment(id="bootstrap", name="local", url=settings.docker_url))
        try:
            await bootstrap(sessionmaker, settings, local, announce=announce)
        finally:
            await local.close()
        instance_id = new_id()
        sessions = SessionService(
            sessionmaker,
            drivers,
            instance_id=instance_id,
            launch_timeout_seconds=settings.launch_timeout_seconds,
        )
        reconciler = None
        if settings.run_reconciler:
            reconciler = Reconciler(
                sessionmaker,
                drivers,
                sessions,
                instance_id=instance_id,
                interval_seconds=settings.reconcile_interval_seconds,
                instance_ttl_seconds=settings.instance_ttl_seconds,
                launch_timeout_seconds=settings.launch_timeout_seconds,
                exclusive=settings.is_sqlite,
            )
        app.state.context = Context(
            settings, engine, sessionmaker, drivers, sessions, reconciler, instance_id
        )
        if reconciler is not None:
            await reconciler.start()
        try:
            yield
        finally:
            if reconciler is not None:
                await reconciler.stop()
            await drivers.close()
            await engine.dispose()
            if lock is not None:
                lock.close()

    app = FastAPI(
        title="Moorage",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(api_router)
    from moorage.web import mount_web

    mount_web(app)
    return app
