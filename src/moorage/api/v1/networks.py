"""Networks of an environment: list, inspect, create, remove, connect and disconnect a
container. Operators and admins only; every change is audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from moorage.api.deps import ContextDep
from moorage.api.v1._docker import Operator, docker_endpoint
from moorage.drivers.docker import networks
from moorage.errors import NotFound
from moorage.models.user import User
from moorage.services.audit import audit

router = APIRouter(tags=["docker"])

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$"


class NetworkCreate(BaseModel):
    """A new bridge network; ``internal`` cuts it off from outside traffic."""

    name: str = Field(pattern=NAME_PATTERN)
    internal: bool = False
    labels: dict[str, str] = Field(default_factory=dict)


class NetworkAttachment(BaseModel):
    """A container (id or name) to connect or disconnect, with DNS aliases on connect."""

    container: str = Field(min_length=1, max_length=256)
    aliases: list[str] = Field(default_factory=list, max_length=16)
    force: bool = False


@router.get("/environments/{env}/networks")
async def list_networks(env: str, context: ContextDep, user: User = Operator) -> list[dict]:
    """``[{id, name, driver, scope, internal, containers}]``; 503 when unreachable."""
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await networks.list_networks(client, endpoint)


@router.get("/environments/{env}/networks/{ref}")
async def inspect_network(
    env: str, ref: str, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """The network with its subnets and attached containers; 404 when unknown."""
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await networks.inspect_network(client, endpoint, ref)


@router.post("/environments/{env}/networks", status_code=201)
async def create_network(
    env: str,
    body: NetworkCreate,
    request: Request,
    context: ContextDep,
    user: User = Operator,
) -> dict[str, str]:
    """Create a bridge network; 201 ``{id, name}``, 409 when the name is taken."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
    network_id = await networks.create_network(
        client, endpoint, body.name, labels=body.labels, internal=body.internal
    )
    await audit(
        context.sessionmaker,
        request,
        user,
        "network.create",
        "network",
        body.name,
        environment=environment.name,
    )
    return {"id": network_id, "name": body.name}


@router.delete("/environments/{env}/networks/{ref}", status_code=204)
async def remove_network(
    env: str, ref: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """Remove a network; 409 while containers are attached, 404 when unknown."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
    await networks.remove_network(client, endpoint, ref)
    await audit(
        context.sessionmaker,
        request,
        user,
        "network.remove",
        "network",
        ref,
        environment=environment.name,
    )
    return Response(status_code=204)


@router.post("/environments/{env}/networks/{ref}/{action}", status_code=204)
async def attach(
    env: str,
    ref: str,
    action: str,
    body: NetworkAttachment,
    request: Request,
    context: ContextDep,
    user: User = Operator,
) -> Response:
    """``action`` is ``connect`` or ``disconnect`` (404 for anything else)."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
    if action == "connect":
        await networks.connect_container(client, endpoint, ref, body.container, body.aliases)
    elif action == "disconnect":
        await networks.disconnect_container(client, endpoint, ref, body.container, body.force)
    else:
        raise NotFound(f"no network action {action!r}; use connect or disconnect")
    await audit(
        context.sessionmaker,
        request,
        user,
        f"network.{action}",
        "network",
        ref,
        environment=environment.name,
        detail=body.container,
    )
    return Response(status_code=204)
