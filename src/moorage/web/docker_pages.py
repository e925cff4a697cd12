"""UI for Docker management (operators): environments, containers, logs, images,
volumes, networks, stacks, events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from moorage.api.deps import ContextDep, DbDep
from moorage.errors import NotFound
from moorage.models.user import Role
from moorage.security.access import Allow
from moorage.services.docker import SHELLS, Caller
from moorage.services.docker.volumes import clean_path
from moorage.services.session_lists import workspaces_by_id
from moorage.services.sessions import SESSION_LABEL
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/environments", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)])
async def environments_page(request: Request, user: PageUser, context: ContextDep) -> Response:
    """The org's environments with their status, and where sessions go: labels,
    state, capacity and what is used (operators)."""
    rows = await context.docker.environments.list_environments(user)
    rooms = await context.docker.environments.rooms(rows)
    return templates.TemplateResponse(
        request, "environments.html", {"user": user, "environments": rows, "rooms": rooms}
    )


@router.get(
    "/environments/{env}/containers",
    response_class=HTMLResponse,
    dependencies=[Allow(Role.OPERATOR)],
)
async def containers_page(
    env: str,
    request: Request,
    user: PageUser,
    db: DbDep,
    context: ContextDep,
    state: str | None = None,
    name: str | None = None,
) -> Response:
    """The containers of an environment; htmx refreshes the table fragment. A Moorage
    workspace (label ``moorage.session``) shows its owner and session, and its
    buttons' confirmations name them."""
    caller = Caller(user, request)
    environment = await context.docker.environments.get(user, env)
    containers = await context.docker.containers.list_containers(
        caller, env, state=state, name=name
    )
    session_ids = [(c.get("labels") or {}).get(SESSION_LABEL, "") for c in containers]
    workspaces = await workspaces_by_id(db, user, session_ids)
    updates = await context.docker.image_updates.badges(caller, env)
    page = "_containers.html" if request.headers.get("hx-request") else "containers.html"
    return templates.TemplateResponse(
        request,
        page,
        {
            "user": user,
            "environment": environment,
            "containers": containers,
            "workspaces": workspaces,
            "updates": updates,
            "state": state or "",
            "name": name or "",
        },
    )


@router.post(
    "/ui/environments/{env}/image-updates/{kind}/{name}/check",
    dependencies=[Allow(Role.OPERATOR)],
)
async def image_update_check_submit(
    env: str, kind: str, name: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """The containers page's "Check updates" button: check (and, by the policy, update)
    now; the badge shows the outcome."""
    _same_origin(request)
    await context.docker.image_updates.check_now(Caller(user, request), env, kind, name)
    return _redirect(request, f"/environments/{env}/containers")


@router.post(
    "/ui/environments/{env}/containers/{ref}/{action}", dependencies=[Allow(Role.OPERATOR)]
)
async def container_action_submit(
    env: str,
    ref: str,
    action: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
) -> Response:
    """A container's action button: ``remove`` or an action of the API (``stop`` …)."""
    _same_origin(request)
    caller = Caller(user, request)
    if action == "remove":
        await context.docker.containers.remove(caller, env, ref)
    else:
        await context.docker.containers.act(caller, env, ref, action)
    return _redirect(request, f"/environments/{env}/containers")


@router.get(
    "/environments/{env}/containers/{ref}/logs",
    response_class=HTMLResponse,
    dependencies=[Allow(Role.OPERATOR)],
)
async def logs_page(
    env: str, ref: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """Live logs: the page follows ``…/logs?follow=true`` (SSE) and keeps the newest
    :data:`MAX_LINES` lines in the page."""
    environment = await context.docker.environments.get(user, env)
    info = await context.docker.containers.inspect(Caller(user, request), env, ref)
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


@router.get(
    "/environments/{env}/containers/{ref}/exec",
    response_class=HTMLResponse,
    dependencies=[Allow(Role.OPERATOR)],
)
async def exec_page(
    env: str,
    ref: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    shell: str = "/bin/bash",
    user_name: str = "",
) -> Response:
    """A terminal in a running container, with a choice of shell and user."""
    environment = await context.docker.environments.get(user, env)
    info = await context.docker.containers.inspect(Caller(user, request), env, ref)
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


@router.get(
    "/environments/{env}/images", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)]
)
async def images_page(env: str, request: Request, user: PageUser, context: ContextDep) -> Response:
    """Images with a pull form that shows Docker's progress as a bar."""
    environment = await context.docker.environments.get(user, env)
    images = await context.docker.images.list_images(Caller(user, request), env)
    images.sort(key=lambda image: (not image["tags"], image["tags"][:1]))
    return templates.TemplateResponse(
        request, "images.html", {"user": user, "environment": environment, "images": images}
    )


@router.get(
    "/environments/{env}/volumes", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)]
)
async def volumes_page(
    env: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    volume: str = "",
    path: str = "",
) -> Response:
    """Volumes, and the files of the chosen one (browsed through a helper container)."""
    caller = Caller(user, request)
    environment = await context.docker.environments.get(user, env)
    volumes = await context.docker.volumes.list_volumes(caller, env)
    entries = []
    if volume:
        entries = await context.docker.volumes.list_path(caller, env, volume, path)
    return templates.TemplateResponse(
        request,
        "volumes.html",
        {
            "user": user,
            "environment": environment,
            "volumes": volumes,
            "selected": volume,
            "path": clean_path(path) if volume else "",
            "entries": entries,
            "parent": "/".join(clean_path(path).split("/")[:-1]),
        },
    )


@router.get(
    "/environments/{env}/networks", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)]
)
async def networks_page(
    env: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    network: str = "",
) -> Response:
    """Networks; the chosen one shows its attached containers and a connect form."""
    caller = Caller(user, request)
    docker = context.docker
    environment = await docker.environments.get(user, env)
    rows = await docker.networks.list_networks(caller, env)
    rows.sort(key=lambda row: row["name"])
    detail = await docker.networks.inspect(caller, env, network) if network else None
    containers = await docker.containers.list_containers(caller, env) if network else []
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


@router.get(
    "/environments/{env}/stacks", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)]
)
async def stacks_page(
    env: str,
    request: Request,
    user: PageUser,
    context: ContextDep,
    stack: str = "",
    new: bool = False,
) -> Response:
    """Stacks (managed and external); the chosen one in an editor with its services.
    A stack from Git shows where it stands (deployed commit, last check, last error in
    full, a commit waiting for approval with its diff, drift); htmx refreshes that card
    (``#git-stack``) alone."""
    caller = Caller(user, request)
    environment = await context.docker.environments.get(user, env)
    git_stacks = context.docker.git_stacks
    git = await git_stacks.describe(caller, environment.name, stack) if stack else None
    webhook_url = git and str(request.base_url).rstrip("/") + git["webhook_path"]
    if git is not None and request.headers.get("hx-request"):
        return templates.TemplateResponse(
            request,
            "_git_stack.html",
            {"environment": environment, "name": stack, "git": git, "webhook_url": webhook_url},
        )
    rows = await context.docker.stacks.list_stacks(caller, environment.name)
    from_git = await context.docker.git_stacks.names(caller, environment.name)
    detail = None
    if stack:
        try:
            detail = await context.docker.stacks.get(caller, environment.name, stack)
        except NotFound:
            if git is None:
                raise
            detail = {"name": stack, "compose": "", "env": "", "services": []}
    return templates.TemplateResponse(
        request,
        "stacks.html",
        {
            "user": user,
            "environment": environment,
            "stacks": rows,
            "from_git": from_git,
            "selected": stack,
            "stack": detail,
            "git": git,
            "webhook_url": webhook_url,
            "new": new and not stack,
        },
    )


MAX_EVENTS = 500


@router.get(
    "/environments/{env}/events", response_class=HTMLResponse, dependencies=[Allow(Role.OPERATOR)]
)
async def events_page(env: str, request: Request, user: PageUser, context: ContextDep) -> Response:
    """The engine's events, live (``/api/v1/environments/{env}/events``)."""
    environment = await context.docker.environments.get(user, env)
    return templates.TemplateResponse(
        request,
        "events.html",
        {"user": user, "environment": environment, "max_events": MAX_EVENTS},
    )
