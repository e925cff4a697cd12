"""UI for Docker management (operators): environments, containers, logs, images,
volumes, networks, stacks, events; the audit log (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from moorage.api.deps import ContextDep, DbDep
from moorage.api.v1 import stacks as stacks_api
from moorage.drivers.docker import networks, resources, volume_browser
from moorage.gateway.exec import SHELLS
from moorage.models.audit import AuditEvent
from moorage.models.environment import Environment
from moorage.models.user import Role
from moorage.security.rbac import require_role
from moorage.services.audit import audit
from moorage.services.environments import docker_of, find_environment
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/environments", response_class=HTMLResponse)
async def environments_page(request: Request, user: PageUser, db: DbDep) -> Response:
    require_role(user, Role.OPERATOR)
    rows = list(
        await db.scalars(
            select(Environment)
            .where(Environment.org_id == user.org_id)
            .order_by(Environment.created_at)
        )
    )
    return templates.TemplateResponse(
        request, "environments.html", {"user": user, "environments": rows}
    )


@router.get("/environments/{env}/containers", response_class=HTMLResponse)
async def containers_page(
    env: str,
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
    state: str | None = None,
    name: str | None = None,
) -> Response:
    """The containers of an environment; htmx refreshes the table fragment."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    containers = await resources.list_containers(
        driver.client, driver.endpoint, state=state, name=name
    )
    page = "_containers.html" if request.headers.get("hx-request") else "containers.html"
    return templates.TemplateResponse(
        request,
        page,
        {
            "user": user,
            "environment": environment,
            "containers": containers,
            "state": state or "",
            "name": name or "",
        },
    )


@router.post("/ui/environments/{env}/containers/{ref}/{action}")
async def container_action_submit(
    env: str,
    ref: str,
    action: str,
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
) -> Response:
    _same_origin(request)
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    if action == "remove":
        await resources.remove_container(driver.client, driver.endpoint, ref)
    else:
        await resources.container_action(driver.client, driver.endpoint, ref, action)
    await audit(
        context.sessionmaker,
        request,
        user,
        f"container.{action}",
        "container",
        ref,
        environment=environment.name,
    )
    return _redirect(request, f"/environments/{env}/containers")


@router.get("/environments/{env}/containers/{ref}/logs", response_class=HTMLResponse)
async def logs_page(
    env: str, ref: str, request: Request, user: PageUser, db: DbDep, context: ContextDep
) -> Response:
    """Live logs: the page follows ``…/logs?follow=true`` (SSE) and keeps the newest
    :data:`MAX_LINES` lines in the page."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    info = await resources.inspect_container(driver.client, driver.endpoint, ref)
    return templates.TemplateResponse(
        request,
        "logs.html",
        {
            "user": user,
            "environment": environment,
            "ref": ref,
            "name": info.get("Name", ref).lstrip("/"),
            "max_lines": MAX_LINES,
        },
    )


MAX_LINES = 5000


@router.get("/environments/{env}/containers/{ref}/exec", response_class=HTMLResponse)
async def exec_page(
    env: str,
    ref: str,
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
    shell: str = "/bin/bash",
    user_name: str = "",
) -> Response:
    """A terminal in a running container, with a choice of shell and user."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    info = await resources.inspect_container(driver.client, driver.endpoint, ref)
    exec_user = request.query_params.get("user", user_name)
    return templates.TemplateResponse(
        request,
        "exec.html",
        {
            "user": user,
            "environment": environment,
            "ref": ref,
            "name": info.get("Name", ref).lstrip("/"),
            "shells": SHELLS,
            "shell": shell if shell in SHELLS else "/bin/sh",
            "exec_user": exec_user,
        },
    )


@router.get("/environments/{env}/images", response_class=HTMLResponse)
async def images_page(
    env: str, request: Request, user: PageUser, db: DbDep, context: ContextDep
) -> Response:
    """Images with a pull form that shows Docker's progress as a bar."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    images = await resources.list_images(driver.client, driver.endpoint)
    images.sort(key=lambda image: (not image["tags"], image["tags"][:1]))
    return templates.TemplateResponse(
        request, "images.html", {"user": user, "environment": environment, "images": images}
    )


@router.get("/environments/{env}/volumes", response_class=HTMLResponse)
async def volumes_page(
    env: str,
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
    volume: str = "",
    path: str = "",
) -> Response:
    """Volumes, and the files of the chosen one (browsed through a helper container)."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    volumes = await resources.list_volumes(driver.client, driver.endpoint)
    entries = []
    if volume:
        entries = await volume_browser.list_path(driver.client, driver.endpoint, volume, path)
    return templates.TemplateResponse(
        request,
        "volumes.html",
        {
            "user": user,
            "environment": environment,
            "volumes": volumes,
            "selected": volume,
            "path": volume_browser.clean_path(path) if volume else "",
            "entries": entries,
            "parent": "/".join(volume_browser.clean_path(path).split("/")[:-1]),
        },
    )


@router.get("/environments/{env}/networks", response_class=HTMLResponse)
async def networks_page(
    env: str,
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
    network: str = "",
) -> Response:
    """Networks; the chosen one shows its attached containers and a connect form."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    rows = await networks.list_networks(driver.client, driver.endpoint)
    rows.sort(key=lambda row: row["name"])
    detail = (
        await networks.inspect_network(driver.client, driver.endpoint, network) if network else None
    )
    containers = await resources.list_containers(driver.client, driver.endpoint) if network else []
    return templates.TemplateResponse(
        request,
        "networks.html",
        {
            "user": user,
            "environment": environment,
            "networks": rows,
            "builtin": ("bridge", "host", "none"),
            "selected": network,
            "detail": detail,
            "containers": containers,
        },
    )


@router.get("/environments/{env}/stacks", response_class=HTMLResponse)
async def stacks_page(
    env: str,
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
    stack: str = "",
    new: bool = False,
) -> Response:
    """Stacks (managed and external); the chosen one in an editor with its services."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    rows = await stacks_api.list_stacks(environment.name, context, user)
    detail = await stacks_api.get_stack(environment.name, stack, context, user) if stack else None
    return templates.TemplateResponse(
        request,
        "stacks.html",
        {
            "user": user,
            "environment": environment,
            "stacks": rows,
            "selected": stack,
            "stack": detail,
            "new": new and not stack,
        },
    )


MAX_EVENTS = 500


@router.get("/environments/{env}/events", response_class=HTMLResponse)
async def events_page(env: str, request: Request, user: PageUser, db: DbDep) -> Response:
    """The engine's events, live (``/api/v1/environments/{env}/events``)."""
    require_role(user, Role.OPERATOR)
    environment = await find_environment(db, user.org_id, env)
    return templates.TemplateResponse(
        request,
        "events.html",
        {"user": user, "environment": environment, "max_events": MAX_EVENTS},
    )


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(request: Request, user: PageUser, db: DbDep) -> Response:
    require_role(user, Role.ADMIN)
    events = list(
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == user.org_id)
            .order_by(AuditEvent.at.desc())
            .limit(500)
        )
    )
    return templates.TemplateResponse(request, "audit.html", {"user": user, "events": events})
