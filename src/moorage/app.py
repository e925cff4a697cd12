"""The ASGI application: API, gateway, web UI and, in the embedded default, the reconciler.

This is the one module that knows all three front ends; they do not import each
other (the UI's error page reaches the API's error handlers through here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from moorage.api.compat import compat_paths, include_compat_routers
from moorage.api.compat._cors import CompatCors
from moorage.api.errors import install_error_handlers
from moorage.api.fast_path import AgentReportFastPath
from moorage.api.metrics import router as metrics_router
from moorage.api.metrics_port import metrics_port
from moorage.api.v1 import router as api_router
from moorage.config import Settings
from moorage.drivers.machines import MachineConnector
from moorage.drivers.pool import DriverFactory
from moorage.gateway.router import router as gateway_router
from moorage.gateway.terminal import SHELL
from moorage.gateway.terminal_hold import TerminalHolds
from moorage.gateway.terminal_spares import spare_shells
from moorage.gateway.thumbnails import Thumbnails
from moorage.gateway.workspace_app import WorkspaceHosts
from moorage.i18n.negotiation import LanguageMiddleware
from moorage.observability.http_metrics import HttpMetrics
from moorage.observability.request_id import RequestIdMiddleware
from moorage.runtime import open_context
from moorage.security.csrf import CsrfGuard
from moorage.security.forwarded import ForwardedHeaders
from moorage.security.headers import SecurityHeaders
from moorage.security.throttle import SignInThrottle
from moorage.web import mount_web
from moorage.web.pages import render_error_page

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    driver_factory: DriverFactory | None = None,
    connector: MachineConnector | None = None,
    announce: Callable[[str], None] = print,
) -> FastAPI:
    """The Moorage ASGI app.

    Args:
        settings: defaults to :class:`Settings` from the environment.
        driver_factory: builds a container driver per environment; the Docker
            driver by default, a fake in unit tests.
        announce: where first-start messages (the generated admin password) go.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_context(
            settings,
            driver_factory=driver_factory,
            connector=connector,
            run_reconciler=settings.run_reconciler,
            announce=announce,
        ) as context:
            app.state.context = context
            # Shells held across reconnects (this process's); a session's end closes its own.
            holds = TerminalHolds()
            context.sessions.add_deadline_listener(holds.deadline_changed)
            if context.warm_pools is not None:  # a terminal's shell opened ahead
                context.warm_pools.on_ready = spare_shells(holds.spares, SHELL)
                context.warm_pools.on_gone = holds.spares.drop
            app.state.terminal_holds = holds
            app.state.thumbnails = Thumbnails(context, holds)
            try:
                async with metrics_port(context, settings.metrics_port):
                    yield
            finally:
                await holds.close_all()

    app = FastAPI(
        title="Moorage",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app, error_page=render_error_page)
    app.add_middleware(LanguageMiddleware)  # before any route: pages and API errors read it
    app.add_middleware(AgentReportFastPath)
    seed_paths = compat_paths(settings)
    app.add_middleware(
        CsrfGuard, trusted_origins=settings.trusted_origin_list, api_paths=seed_paths
    )
    app.add_middleware(SecurityHeaders, hsts=settings.cookie_secure)
    if settings.workspace_domain:
        app.add_middleware(WorkspaceHosts, settings=settings, main=lambda: app)
    if settings.compat_cors_origin_list and seed_paths:
        # Outermost: a preflight (OPTIONS) is answered before any other check.
        app.add_middleware(CompatCors, origins=settings.compat_cors_origin_list, paths=seed_paths)
    # Every request counted, and its id set before anything logs.
    app.add_middleware(HttpMetrics)
    app.add_middleware(RequestIdMiddleware)
    if settings.trusted_proxy_networks:  # outermost: every other layer sees the client's
        app.add_middleware(ForwardedHeaders, networks=settings.trusted_proxy_networks)
    app.state.sign_in_throttle = SignInThrottle()
    app.include_router(api_router)
    app.include_router(metrics_router)
    app.include_router(gateway_router)
    # Before the pages: a seed path that is also a page (Projet-IAC's /machines) is
    # tried first and answers API clients only (api.compat.ApiClientRoute).
    include_compat_routers(app, settings)
    mount_web(app)
    return app
