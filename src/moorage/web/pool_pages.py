"""UI for the machine pool: reservations (members), machines and provisioning (operators)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.db.base import utcnow
from moorage.errors import InvalidInput
from moorage.models.machine import Machine
from moorage.models.pool import Pool
from moorage.models.provision import ProvisionRun
from moorage.models.user import Role
from moorage.security.rbac import require_role
from moorage.services.machine_import import import_machines
from moorage.services.machines import availability, find_machine
from moorage.services.provisioning import playbook_choices
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

RESERVE_DURATIONS_MINUTES = (30, 60, 120, 240, 480)


# -- members: reservations ----------------------------------------------------


@router.get("/reservations", response_class=HTMLResponse)
async def reservations_page(
    request: Request, user: PageUser, db: DbDep, context: ContextDep
) -> Response:
    pools = list(
        await db.scalars(select(Pool).where(Pool.org_id == user.org_id).order_by(Pool.name))
    )
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


@router.post("/ui/reservations")
async def reserve_submit(
    request: Request,
    user: PageUser,
    context: ContextDep,
    pool: Annotated[str, Form()],
    count: Annotated[int, Form()],
    duration_minutes: Annotated[int, Form()],
    username: Annotated[str, Form()] = "",
) -> Response:
    _same_origin(request)
    await context.reservations.reserve(
        user, pool=pool, count=count, duration_minutes=duration_minutes, username=username or None
    )
    return _redirect(request, "/reservations")


@router.post("/ui/reservations/{reservation_id}/extend")
async def reservation_extend_submit(
    reservation_id: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    minutes: Annotated[int, Form()] = 30,
) -> Response:
    _same_origin(request)
    await context.reservations.extend(user, reservation_id, minutes)
    return _redirect(request, "/reservations")


@router.post("/ui/reservations/{reservation_id}/release")
async def reservation_release_submit(
    reservation_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    _same_origin(request)
    await context.reservations.release(user, reservation_id)
    return _redirect(request, "/reservations")


# -- operators: machines --------------------------------------------------------


@router.get("/machines", response_class=HTMLResponse)
async def machines_page(request: Request, user: PageUser, db: DbDep) -> Response:
    require_role(user, Role.OPERATOR)
    machines = list(
        await db.scalars(
            select(Machine).where(Machine.org_id == user.org_id).order_by(Machine.name)
        )
    )
    return templates.TemplateResponse(
        request,
        "machines.html",
        {
            "user": user,
            "machines": machines,
            "availability": await availability(db, user.org_id, utcnow()),
        },
    )


@router.post("/ui/machines/import")
async def machines_import_submit(
    request: Request,
    user: PageUser,
    db: WriteDbDep,
    context: ContextDep,
    text: Annotated[str, Form()],
    pool: Annotated[str, Form()] = "default",
    skip_invalid: Annotated[str, Form()] = "",
) -> Response:
    _same_origin(request)
    require_role(user, Role.OPERATOR)
    await import_machines(
        db,
        context.keyring,
        user.org_id,
        text,
        pool=pool or "default",
        skip_invalid=skip_invalid == "on",
    )
    await db.commit()
    return _redirect(request, "/machines")


@router.post("/ui/machines/{name}/maintenance")
async def machine_maintenance_submit(
    name: str, request: Request, user: PageUser, db: WriteDbDep
) -> Response:
    """Toggle maintenance: in maintenance a machine is neither probed nor handed out."""
    _same_origin(request)
    require_role(user, Role.OPERATOR)
    machine = await find_machine(db, user.org_id, name)
    if machine.status == "maintenance":
        machine.status = "unknown"
    elif machine.status == "dirty":
        raise InvalidInput("a dirty machine returns once its clean-up succeeds", field="status")
    else:
        machine.status = "maintenance"
    await db.commit()
    return _redirect(request, "/machines")


@router.post("/ui/machines/{name}/delete")
async def machine_delete_submit(
    name: str, request: Request, user: PageUser, db: WriteDbDep
) -> Response:
    _same_origin(request)
    from moorage.api.v1.machines import delete_machine

    await delete_machine(name, db, user)
    return _redirect(request, "/machines")


# -- operators: provisioning ----------------------------------------------------


@router.get("/provisioning", response_class=HTMLResponse)
async def provisioning_page(
    request: Request, user: PageUser, db: DbDep, context: ContextDep
) -> Response:
    require_role(user, Role.OPERATOR)
    pools = list(
        await db.scalars(select(Pool).where(Pool.org_id == user.org_id).order_by(Pool.name))
    )
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


@router.post("/ui/provisioning")
async def provisioning_submit(
    request: Request,
    user: PageUser,
    context: ContextDep,
    pool: Annotated[str, Form()],
    playbook: Annotated[str, Form()],
) -> Response:
    _same_origin(request)
    require_role(user, Role.OPERATOR)
    choices = playbook_choices(context.settings.data_dir)
    if playbook not in choices:
        raise InvalidInput(f"no playbook named {playbook!r}", field="playbook")
    run = await context.provisioner.start(user, pool, Path(choices[playbook]))
    return _redirect(request, f"/provisioning/{run.id}")


@router.get("/provisioning/{run_id}", response_class=HTMLResponse)
async def provision_run_page(
    run_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """A run's output; htmx re-fetches the fragment every 2 s while it runs."""
    require_role(user, Role.OPERATOR)
    run = await context.provisioner.get_by_id(run_id)
    name = "_provision_run.html" if request.headers.get("hx-request") else "provision_run.html"
    return templates.TemplateResponse(request, name, {"user": user, "run": run})
