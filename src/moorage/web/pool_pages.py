"""UI for the machine pool: reservations (members), machines and provisioning (operators).

Each form calls the same service as its API route, with the same role guard
(:data:`OperatorUser`); the services check the role again and write the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.db.base import utcnow
from moorage.errors import InvalidInput
from moorage.models.provision import ProvisionRun
from moorage.models.user import Role
from moorage.security.access import Allow, Owner
from moorage.security.auth import OperatorUser
from moorage.services import machines
from moorage.services.audit import client_address
from moorage.services.machine_import import import_machines
from moorage.services.pools import availability, pools_of
from moorage.services.provisioning import playbook_choices
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

RESERVE_DURATIONS_MINUTES = (30, 60, 120, 240, 480)


# -- members: reservations ----------------------------------------------------


@router.get("/reservations", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)])
async def reservations_page(
    request: Request, user: PageUser, db: DbDep, context: ContextDep
) -> Response:
    """Pools, their availability and the user's live reservations with credentials."""
    pools = await pools_of(db, user.org_id)
    reservations = await context.reservations.list(user, live_only=True)
    return templates.TemplateResponse(
        request,
        "reservations.html",
        {
            "user": user,
            "pools": pools,
            "durations": RESERVE_DURATIONS_MINUTES,
            "availability": await availability(db, user.org_id, utcnow()),
            "reservations": reservations,
            "passwords": {r.id: context.reservations.password_of(r) for r in reservations},
        },
    )


@router.post("/ui/reservations", dependencies=[Allow(Role.MEMBER)])
async def reserve_submit(
    request: Request,
    user: PageUser,
    context: ContextDep,
    pool: Annotated[str, Form()],
    count: Annotated[int, Form()],
    duration_minutes: Annotated[int, Form()],
    username: Annotated[str, Form()] = "",
) -> Response:
    """Reserve machines of a pool (members and above; the service's rules, limits and
    audit)."""
    _same_origin(request)
    await context.reservations.reserve(
        user,
        pool=pool,
        count=count,
        duration_minutes=duration_minutes,
        username=username or None,
        source=client_address(request),
    )
    return _redirect(request, "/reservations")


@router.post("/ui/reservations/{reservation_id}/extend", dependencies=[Owner])
async def reservation_extend_submit(
    reservation_id: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    minutes: Annotated[int, Form()] = 30,
) -> Response:
    """Add ``minutes`` to a reservation (within the pool's maximum)."""
    _same_origin(request)
    await context.reservations.extend(user, reservation_id, minutes, source=client_address(request))
    return _redirect(request, "/reservations")


@router.post("/ui/reservations/{reservation_id}/release", dependencies=[Owner])
async def reservation_release_submit(
    reservation_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """Release a reservation now."""
    _same_origin(request)
    await context.reservations.release(user, reservation_id, source=client_address(request))
    return _redirect(request, "/reservations")


# -- operators: machines --------------------------------------------------------


@router.get("/machines", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)])
async def machines_page(request: Request, user: OperatorUser, db: DbDep) -> Response:
    """Operators: the machines of the pool and the availability per pool."""
    return templates.TemplateResponse(
        request,
        "machines.html",
        {
            "user": user,
            "machines": await machines.machines_of(db, user),
            "availability": await availability(db, user.org_id, utcnow()),
        },
    )


@router.post("/ui/machines/import", dependencies=[Allow(Role.OPERATOR)])
async def machines_import_submit(
    request: Request,
    user: OperatorUser,
    db: WriteDbDep,
    context: ContextDep,
    text: Annotated[str, Form()],
    pool: Annotated[str, Form()] = "default",
    skip_invalid: Annotated[str, Form()] = "",
) -> Response:
    """Operators: import a ``machines.txt`` pasted in the form (audited)."""
    _same_origin(request)
    try:
        await import_machines(
            db,
            context.keyring,
            user.org_id,
            text,
            pool=pool or "default",
            skip_invalid=skip_invalid == "on",
            by=user,
        )
    except InvalidInput as exc:
        if exc.details.get("field") == "body":
            exc.details["field"] = "text"  # the form's textarea, where the page shows it
        raise
    await db.commit()
    return _redirect(request, "/machines")


@router.post("/ui/machines/{name}/maintenance", dependencies=[Allow(Role.OPERATOR)])
async def machine_maintenance_submit(
    name: str, request: Request, user: OperatorUser, db: WriteDbDep
) -> Response:
    """Toggle maintenance: in maintenance a machine is neither probed nor handed out."""
    _same_origin(request)
    await machines.toggle_maintenance(db, user, name)
    await db.commit()
    return _redirect(request, "/machines")


@router.post("/ui/machines/{name}/delete", dependencies=[Allow(Role.OPERATOR)])
async def machine_delete_submit(
    name: str, request: Request, user: OperatorUser, db: WriteDbDep
) -> Response:
    """Operators: forget a machine (409 while reserved or dirty; audited)."""
    _same_origin(request)
    await machines.delete_machine(db, user, name)
    await db.commit()
    return _redirect(request, "/machines")


# -- operators: provisioning ----------------------------------------------------


@router.get("/provisioning", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)])
async def provisioning_page(
    request: Request, user: OperatorUser, db: DbDep, context: ContextDep
) -> Response:
    """Operators: pools, playbooks and the 20 latest provisioning runs."""
    pools = await pools_of(db, user.org_id)
    runs = list(
        await db.scalars(
            select(ProvisionRun)
            .where(ProvisionRun.org_id == user.org_id)
            .order_by(ProvisionRun.created_at.desc())
            .limit(20)
        )
    )
    names = {pool.id: pool.name for pool in pools}
    return templates.TemplateResponse(
        request,
        "provisioning.html",
        {
            "user": user,
            "pools": pools,
            "runs": runs,
            "pool_names": names,
            "playbooks": sorted(playbook_choices(context.settings.data_dir)),
        },
    )


@router.post("/ui/provisioning", dependencies=[Allow(Role.OPERATOR)])
async def provisioning_submit(
    request: Request,
    user: OperatorUser,
    context: ContextDep,
    pool: Annotated[str, Form()],
    playbook: Annotated[str, Form()],
) -> Response:
    """Operators: run a playbook on a pool and open the run's page (audited)."""
    _same_origin(request)
    run = await context.provisioner.start_playbook(user, pool, playbook)
    return _redirect(request, f"/provisioning/{run.id}")


@router.get(
    "/provisioning/{run_id}", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)]
)
async def provision_run_page(
    run_id: str, request: Request, user: OperatorUser, context: ContextDep
) -> Response:
    """A run's output; htmx re-fetches the fragment every 2 s while it runs."""
    run = await context.provisioner.run_of(user, run_id)
    name = "_provision_run.html" if request.headers.get("hx-request") else "provision_run.html"
    return templates.TemplateResponse(request, name, {"user": user, "run": run})
