"""The web UI: server-rendered Jinja2 pages with htmx and Tabler."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_web"]

STATIC_DIR = Path(__file__).with_name("static")


def mount_web(app: FastAPI) -> None:
    """Add the UI routes and ``/static`` to ``app``."""
    from moorage.web.pages import router
    from moorage.web.pool_pages import router as pool_router
    from moorage.web.template_pages import router as template_router

    STATIC_DIR.mkdir(exist_ok=True)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.include_router(template_router)
    app.include_router(pool_router)
    from moorage.web.docker_pages import router as docker_router

    app.include_router(docker_router)
    from moorage.web.fleet_pages import router as fleet_router

    app.include_router(fleet_router)
    from moorage.web.assets import router as assets_router

    app.include_router(assets_router)
    from moorage.web.admin_pages import router as admin_router

    app.include_router(admin_router)
    from moorage.web.session_pages import router as session_router

    app.include_router(session_router)
    from moorage.web.share_pages import router as share_router

    app.include_router(share_router)
    from moorage.web.recording_pages import router as recording_router

    app.include_router(recording_router)
    from moorage.web.user_pages import router as user_router

    app.include_router(user_router)
    from moorage.web.org_pages import router as org_router

    app.include_router(org_router)
    from moorage.web.account_pages import router as account_router

    app.include_router(account_router)
    from moorage.web.join_pages import router as join_router
    from moorage.web.workshop_pages import router as workshop_router

    app.include_router(join_router)
    app.include_router(workshop_router)

    from moorage.web.two_factor_pages import router as two_factor_router

    app.include_router(two_factor_router)

    from moorage.web.directory_pages import router as directory_router
    from moorage.web.oidc_pages import router as oidc_router
    from moorage.web.oidc_settings_pages import router as oidc_settings_router

    app.include_router(oidc_router)
    app.include_router(directory_router)
    app.include_router(oidc_settings_router)

    from moorage.web.language_pages import router as language_router

    app.include_router(language_router)
