"""Networks of an environment: list, inspect, create, remove, connect and disconnect a
container. Operators and admins only; the Docker services check the role and audit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.models.user import Role
from moorage.schemas.docker_objects import NetworkAttachment, NetworkCreate
from moorage.security.access import Allow

router = APIRouter(tags=["docker"])


@router.get("/environments/{env}/networks", dependencies=[Allow(Role.OPERATOR)])
async def list_networks(env: str, docker: DockerDep, caller: OperatorCaller) -> list[dict]:
    """``[{id, name, driver, scope, internal, containers}]``; 503 when unreachable."""
    return await docker.networks.list_networks(caller, env)


@router.get("/environments/{env}/networks/{ref}", dependencies=[Allow(Role.OPERATOR)])
async def inspect_network(
    env: str, ref: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """The network with its subnets and attached containers; 404 when unknown."""
    return await docker.networks.inspect(caller, env, ref)


@router.post("/environments/{env}/networks", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_network(
    env: str, body: NetworkCreate, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Create a bridge network; 201 ``{id, name}``, 409 when the name is taken."""
    network_id = await docker.networks.create(
        caller, env, body.name, labels=body.labels, internal=body.internal
    )
    return {"id": network_id, "name": body.name}


@router.delete(
    "/environments/{env}/networks/{ref}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def remove_network(env: str, ref: str, docker: DockerDep, caller: OperatorCaller) -> Response:
    """Remove a network; 409 while containers are attached, 404 when unknown."""
    await docker.networks.remove(caller, env, ref)
    return Response(status_code=204)


@router.post(
    "/environments/{env}/networks/{ref}/{action}",
    status_code=204,
    dependencies=[Allow(Role.OPERATOR)],
)
async def attach(
    env: str,
    ref: str,
    action: str,
    body: NetworkAttachment,
    docker: DockerDep,
    caller: OperatorCaller,
) -> Response:
    """``action`` is ``connect`` or ``disconnect`` (404 for anything else)."""
    await docker.networks.attach(
        caller, env, ref, action, body.container, aliases=body.aliases, force=body.force
    )
    return Response(status_code=204)
