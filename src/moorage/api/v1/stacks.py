"""Compose stacks of an environment (operators): create, deploy, stop, start, down,
services, logs, adopt. The Docker services check the role and write the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.models.user import Role
from moorage.schemas.docker_objects import StackCreate, StackFiles
from moorage.security.access import Allow

router = APIRouter(tags=["stacks"])


@router.get("/environments/{env}/stacks", dependencies=[Allow(Role.OPERATOR)])
async def list_stacks(env: str, docker: DockerDep, caller: OperatorCaller) -> list[dict[str, Any]]:
    """Managed stacks (files here) and stacks started elsewhere (from Compose's labels):
    ``[{name, managed, containers, running}]``."""
    return await docker.stacks.list_stacks(caller, env)


@router.post("/environments/{env}/stacks", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_stack(
    env: str, body: StackCreate, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Store a stack's files (checked with ``docker-compose config``); deploy it next."""
    await docker.stacks.create(caller, env, body.name, body.compose, body.env)
    return {"name": body.name}


@router.put(
    "/environments/{env}/stacks/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def update_stack(
    env: str, name: str, body: StackFiles, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Replace the stack's files; redeploy to apply them."""
    await docker.stacks.update(caller, env, name, body.compose, body.env)
    return Response(status_code=204)


@router.get("/environments/{env}/stacks/{name}", dependencies=[Allow(Role.OPERATOR)])
async def get_stack(
    env: str, name: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """The files and services (``docker-compose ps``) of a managed stack."""
    return await docker.stacks.get(caller, env, name)


@router.get(
    "/environments/{env}/stacks/{name}/logs",
    response_class=PlainTextResponse,
    dependencies=[Allow(Role.OPERATOR)],
)
async def stack_logs(
    env: str,
    name: str,
    docker: DockerDep,
    caller: OperatorCaller,
    service: str | None = None,
    tail: int = 200,
) -> PlainTextResponse:
    """The services' logs (``docker-compose logs``), one service with ``service``."""
    return PlainTextResponse(
        await docker.stacks.logs(caller, env, name, service=service, tail=tail)
    )


@router.post(
    "/environments/{env}/stacks/{name}/adopt", status_code=201, dependencies=[Allow(Role.OPERATOR)]
)
async def adopt_stack(
    env: str, name: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Take over a stack started outside Moorage: its compose files (from Compose's
    ``config_files`` label) are copied here, so it can be managed like the others.
    404 when no such project runs; 422 when its files cannot be read here."""
    await docker.stacks.adopt(caller, env, name)
    return {"name": name}


@router.delete(
    "/environments/{env}/stacks/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def forget_stack(env: str, name: str, docker: DockerDep, caller: OperatorCaller) -> Response:
    """Delete a stack's files (take it ``down`` first to remove its containers)."""
    await docker.stacks.forget(caller, env, name)
    return Response(status_code=204)


@router.post("/environments/{env}/stacks/{name}/{action}", dependencies=[Allow(Role.OPERATOR)])
async def stack_action(
    env: str,
    name: str,
    action: str,
    docker: DockerDep,
    caller: OperatorCaller,
    pull: bool = False,
    volumes: bool = False,
) -> dict[str, str]:
    """``deploy`` (``up -d``; ``pull=true`` pulls images first: a redeploy), ``stop``,
    ``start`` or ``down`` (``volumes=true`` also removes its volumes). Returns
    Compose's output."""
    output = await docker.stacks.act(caller, env, name, action, pull=pull, volumes=volumes)
    return {"output": output}
