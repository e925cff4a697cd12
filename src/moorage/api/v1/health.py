"""Health and reconciler status."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from moorage.api.deps import AdminUser, ContextDep, DbDep
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.models.user import Role
from moorage.security.access import Allow, Public

router = APIRouter(tags=["health"])


@router.get("/health", dependencies=[Public])
async def health(context: ContextDep) -> JSONResponse:
    """``{"status", "database", "docker"}``: ``ok``/``degraded``, ``ok``/``unavailable`` each.

    Answers 200 while the database answers (Docker being down degrades but does
    not fail the process), 503 otherwise.
    """
    database = "ok"
    environment = None
    try:
        async with context.sessionmaker() as db:
            await asyncio.wait_for(db.execute(text("SELECT 1")), 5)
            environment = await db.scalar(select(Environment).order_by(Environment.created_at))
    except Exception:
        database = "unavailable"
    docker = "unavailable"
    if environment is not None:
        try:
            await asyncio.wait_for(context.drivers.get(environment).ping(), 5)
            docker = "ok"
        except (MoorageError, TimeoutError):
            docker = "unavailable"
    status = "ok" if database == "ok" and docker == "ok" else "degraded"
    return JSONResponse(
        {"status": status, "database": database, "docker": docker},
        status_code=200 if database == "ok" else 503,
    )


@router.get("/reconciler", dependencies=[Allow(Role.ADMIN)])
async def reconciler_status(context: ContextDep, _admin: AdminUser, db: DbDep) -> dict[str, object]:
    """Admins: leadership, queued deadlines and expiry lateness (p50/p99 seconds), and
    ``warm``: the warm pools, counted apart from leases (see ``WarmPools.status``)."""
    warm = await context.warm_pools.status(db) if context.warm_pools is not None else None
    if context.reconciler is None:
        return {"running": False, "warm": warm}
    return {"running": True, **context.reconciler.status(), "warm": warm}
