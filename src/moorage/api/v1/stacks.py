"""Compose stacks of an environment (operators): create, deploy, stop, start, down,
services, logs, adopt. Every mutating call is audited."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import ContextDep, CurrentUser
from moorage.drivers.docker import resources
from moorage.errors import InvalidInput, NotFound
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.audit import audit
from moorage.services.environments import docker_of, find_environment
from moorage.services.stacks import compose, services_of, stack_dir, write_files

router = APIRouter(tags=["stacks"])

PROJECT_LABEL = "com.docker.compose.project"


async def operator(user: CurrentUser) -> User:
    require_role(user, Role.OPERATOR)
    return user


Operator = Depends(operator)


class StackFilesBody(BaseModel):
    """A compose file and an optional ``.env``."""

    model_config = ConfigDict(extra="forbid")

    compose: str = Field(min_length=1, max_length=512_000, description="compose.yaml text.")
    env: str = Field("", max_length=64_000, description=".env text.")


class StackCreate(StackFilesBody):
    name: str = Field(min_length=1, max_length=63)


async def _environment(env: str, context, user: User):
    async with context.sessionmaker() as db:
        return await find_environment(db, user.org_id, env)


@router.get("/environments/{env}/stacks")
async def list_stacks(env: str, context: ContextDep, user: User = Operator) -> list[dict[str, Any]]:
    """Managed stacks (files here) and stacks started elsewhere (from Compose's labels):
    ``[{name, managed, containers, running}]``."""
    environment = await _environment(env, context, user)
    driver = docker_of(context.drivers, environment)
    containers = await resources.list_containers(
        driver.client, driver.endpoint, label=PROJECT_LABEL
    )
    found: dict[str, dict[str, Any]] = {}
    root = context.settings.data_dir / "stacks" / environment.name
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if (folder / "compose.yaml").is_file():
                found[folder.name] = {
                    "name": folder.name,
                    "managed": True,
                    "containers": 0,
                    "running": 0,
                }
    for container in containers:
        project = container["labels"].get(PROJECT_LABEL)
        row = found.setdefault(
            project, {"name": project, "managed": False, "containers": 0, "running": 0}
        )
        row["containers"] += 1
        row["running"] += container["state"] == "running"
    return sorted(found.values(), key=lambda row: row["name"])


@router.post("/environments/{env}/stacks", status_code=201)
async def create_stack(
    env: str, body: StackCreate, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, str]:
    """Store a stack's files (checked with ``docker-compose config``); deploy it next."""
    environment = await _environment(env, context, user)
    files = stack_dir(context.settings.data_dir, environment, body.name)
    await write_files(environment, files, body.name, body.compose, body.env, create=True)
    await audit(
        context.sessionmaker,
        request,
        user,
        "stack.create",
        "stack",
        body.name,
        environment=environment.name,
    )
    return {"name": body.name}


@router.put("/environments/{env}/stacks/{name}", status_code=204)
async def update_stack(
    env: str,
    name: str,
    body: StackFilesBody,
    request: Request,
    context: ContextDep,
    user: User = Operator,
) -> Response:
    """Replace the stack's files; redeploy to apply them."""
    environment = await _environment(env, context, user)
    files = stack_dir(context.settings.data_dir, environment, name)
    await write_files(environment, files, name, body.compose, body.env, create=False)
    await audit(
        context.sessionmaker,
        request,
        user,
        "stack.update",
        "stack",
        name,
        environment=environment.name,
    )
    return Response(status_code=204)


@router.get("/environments/{env}/stacks/{name}")
async def get_stack(
    env: str, name: str, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """The files and services (``docker-compose ps``) of a managed stack."""
    environment = await _environment(env, context, user)
    files = stack_dir(context.settings.data_dir, environment, name)
    output = await compose(environment, files, name, "ps", "--all", "--format", "json")
    return {
        "name": name,
        "compose": files.compose_file.read_text(),
        "env": files.env_file.read_text() if files.env_file.is_file() else "",
        "services": services_of(output),
    }


@router.get("/environments/{env}/stacks/{name}/logs", response_class=PlainTextResponse)
async def stack_logs(
    env: str,
    name: str,
    context: ContextDep,
    user: User = Operator,
    service: str | None = None,
    tail: int = 200,
) -> PlainTextResponse:
    """The services' logs (``docker-compose logs``), one service with ``service``."""
    environment = await _environment(env, context, user)
    files = stack_dir(context.settings.data_dir, environment, name)
    args = ["logs", "--no-color", "--tail", str(max(1, min(tail, 10_000)))]
    if service:
        args.append(service)
    return PlainTextResponse(await compose(environment, files, name, *args))


@router.post("/environments/{env}/stacks/{name}/adopt", status_code=201)
async def adopt_stack(
    env: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, str]:
    """Take over a stack started outside Moorage: its compose files (from Compose's
    ``config_files`` label) are copied here, so it can be managed like the others.

    Raises:
        NotFound: no such project; InvalidInput: its files cannot be read here.
    """
    environment = await _environment(env, context, user)
    driver = docker_of(context.drivers, environment)
    containers = await resources.list_containers(
        driver.client, driver.endpoint, label=f"{PROJECT_LABEL}={name}"
    )
    if not containers:
        raise NotFound(
            f"no stack named {name!r} runs on {environment.name}", code="stack_not_found"
        )
    config = containers[0]["labels"].get("com.docker.compose.project.config_files", "")
    sources = [Path(p) for p in config.split(",") if p]
    if len(sources) != 1 or not sources[0].is_file():
        raise InvalidInput(
            f"the compose file of {name} ({config or 'unknown'}) cannot be read "
            "here; create the stack with its files instead",
            field="name",
        )
    files = stack_dir(context.settings.data_dir, environment, name)
    env_source = sources[0].parent / ".env"
    await write_files(
        environment,
        files,
        name,
        sources[0].read_text(),
        env_source.read_text() if env_source.is_file() else "",
        create=True,
    )
    await audit(
        context.sessionmaker,
        request,
        user,
        "stack.adopt",
        "stack",
        name,
        environment=environment.name,
    )
    return {"name": name}


@router.delete("/environments/{env}/stacks/{name}", status_code=204)
async def forget_stack(
    env: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """Delete a stack's files (take it ``down`` first to remove its containers)."""
    environment = await _environment(env, context, user)
    files = stack_dir(context.settings.data_dir, environment, name)
    if not files.root.exists():
        raise NotFound(f"no stack named {name!r} on {environment.name}", code="stack_not_found")
    shutil.rmtree(files.root)
    await audit(
        context.sessionmaker,
        request,
        user,
        "stack.forget",
        "stack",
        name,
        environment=environment.name,
    )
    return Response(status_code=204)


ACTIONS = {
    "deploy": ["up", "--detach", "--remove-orphans"],
    "stop": ["stop"],
    "start": ["start"],
}


@router.post("/environments/{env}/stacks/{name}/{action}")
async def stack_action(
    env: str,
    name: str,
    action: str,
    request: Request,
    context: ContextDep,
    user: User = Operator,
    pull: bool = False,
    volumes: bool = False,
) -> dict[str, str]:
    """``deploy`` (``up -d``; ``pull=true`` pulls images first: a redeploy), ``stop``,
    ``start`` or ``down`` (``volumes=true`` also removes its volumes). Returns
    Compose's output."""
    environment = await _environment(env, context, user)
    files = stack_dir(context.settings.data_dir, environment, name)
    if action == "down":
        args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
    elif action in ACTIONS:
        args = ACTIONS[action] + (["--pull", "always"] if action == "deploy" and pull else [])
    else:
        raise InvalidInput(
            f"unknown action {action!r}; use deploy, stop, start or down", field="action"
        )
    output = await compose(environment, files, name, *args)
    await audit(
        context.sessionmaker,
        request,
        user,
        f"stack.{action}",
        "stack",
        name,
        environment=environment.name,
    )
    return {"output": output}
