"""Containers of an environment: list, create, inspect, actions, logs, stats, exec,
and the engine's events (operators). Mutating calls are audited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.deps import ContextDep
from moorage.api.v1._docker import Operator, docker_endpoint
from moorage.drivers.docker import resources
from moorage.errors import InvalidInput, MoorageError
from moorage.gateway.exec import serve_exec
from moorage.models.user import User
from moorage.schemas.environment import (
    ContainerCreate,
)
from moorage.services.audit import audit

router = APIRouter(tags=["containers"])


# -- containers ---------------------------------------------------------------------


@router.get("/environments/{env}/containers")
async def list_containers(
    env: str,
    context: ContextDep,
    user: User = Operator,
    state: str | None = None,
    name: str | None = None,
    label: str | None = None,
    stack: str | None = None,
    size: bool = False,
) -> list[dict[str, Any]]:
    """Containers, running or not. Filters: ``state``, ``name``, ``label``, ``stack``;
    sizes only with ``size=true``."""
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await resources.list_containers(
        client, endpoint, state=state, name=name, label=label, stack=stack, size=size
    )


@router.post("/environments/{env}/containers", status_code=201)
async def create_container(
    env: str, body: ContainerCreate, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, str]:
    """Create (and start) a container from a form. Ports bind to ``host_ip``
    (127.0.0.1 unless chosen otherwise)."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
    host: dict[str, Any] = {
        "RestartPolicy": {"Name": body.restart_policy},
        "Binds": body.volumes,
        "PortBindings": {},
    }
    for port in body.ports:
        host["PortBindings"][f"{port.container_port}/{port.protocol}"] = [
            {"HostIp": port.host_ip, "HostPort": str(port.host_port or "")}
        ]
    if body.cpu_limit:
        host["NanoCpus"] = int(body.cpu_limit * 1e9)
    if body.memory_limit_mb:
        host["Memory"] = body.memory_limit_mb * 1024 * 1024
    config: dict[str, Any] = {
        "Image": body.image,
        "Env": [f"{k}={v}" for k, v in body.env.items()],
        "Labels": body.labels,
        "HostConfig": host,
        "ExposedPorts": {f"{p.container_port}/{p.protocol}": {} for p in body.ports},
    }
    if body.command:
        config["Cmd"] = body.command
    container_id = await resources.create_container(
        client, endpoint, config, body.name, start=body.start
    )
    await audit(
        context.sessionmaker,
        request,
        user,
        "container.create",
        "container",
        body.name or container_id,
        environment=environment.name,
        detail=body.image,
    )
    return {"id": container_id}


@router.get("/environments/{env}/containers/{ref}")
async def inspect_container(
    env: str, ref: str, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await resources.inspect_container(client, endpoint, ref)


@router.post("/environments/{env}/containers/{ref}/rename", status_code=204)
async def rename_container(
    env: str, ref: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    environment, client, endpoint = await docker_endpoint(env, context, user)
    await resources.rename_container(client, endpoint, ref, name)
    await audit(
        context.sessionmaker,
        request,
        user,
        "container.rename",
        "container",
        ref,
        environment=environment.name,
        detail=name,
    )
    return Response(status_code=204)


@router.post("/environments/{env}/containers/{ref}/{action}", status_code=204)
async def container_action(
    env: str, ref: str, action: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """``start``, ``stop``, ``restart``, ``kill``, ``pause`` or ``unpause``."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
    await resources.container_action(client, endpoint, ref, action)
    await audit(
        context.sessionmaker,
        request,
        user,
        f"container.{action}",
        "container",
        ref,
        environment=environment.name,
    )
    return Response(status_code=204)


@router.delete("/environments/{env}/containers/{ref}", status_code=204)
async def remove_container(
    env: str,
    ref: str,
    request: Request,
    context: ContextDep,
    user: User = Operator,
    volumes: bool = False,
) -> Response:
    """Remove a container (force); with ``volumes=true`` its anonymous volumes too."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
    await resources.remove_container(client, endpoint, ref, volumes=volumes)
    await audit(
        context.sessionmaker,
        request,
        user,
        "container.remove",
        "container",
        ref,
        environment=environment.name,
    )
    return Response(status_code=204)


@router.get("/environments/{env}/containers/{ref}/logs", response_model=None)
async def container_logs(
    env: str,
    ref: str,
    request: Request,
    context: ContextDep,
    user: User = Operator,
    tail: str = "100",
    since: int | None = None,
    timestamps: bool = False,
    follow: bool = False,
    download: bool = False,
) -> Response:
    """Logs, stdout and stderr told apart; ``tail`` is a line count or ``all``. Without
    ``follow``: text lines prefixed
    ``stdout``/``stderr`` (an attachment with ``download=true``). With ``follow``:
    server-sent events ``stdout``/``stderr``, each carrying one or more lines (one
    ``data:`` field per line), open until the client
    leaves (a comment ping every 15 s keeps idle follows alive)."""
    _, client, endpoint = await docker_endpoint(env, context, user)
    lines_wanted = _tail(tail)
    if not follow:
        lines = await resources.read_logs(
            client, endpoint, ref, tail=lines_wanted, since=since, timestamps=timestamps
        )
        text = "".join(f"{stream} {line}\n" for stream, line in lines)
        headers = (
            {"Content-Disposition": f'attachment; filename="{ref[:32]}.log"'} if download else None
        )
        return PlainTextResponse(text, headers=headers)
    await resources.inspect_container(client, endpoint, ref)  # 404 before streaming

    async def events() -> AsyncIterator[ServerSentEvent]:
        # One event per batch of lines read together: its data has one `data:` field per
        # line (the SSE format joins them with newlines), far cheaper than one event a line.
        async for stream, lines in resources.follow_log_batches(
            client, endpoint, ref, tail=lines_wanted, since=since, timestamps=timestamps
        ):
            yield ServerSentEvent("\n".join(lines), event=stream)

    return EventSourceResponse(events(), ping=15)


def _tail(value: str) -> int | None:
    """A ``tail`` parameter: a number of lines, or ``all`` (None)."""
    if value == "all":
        return None
    if not value.isdigit():
        raise InvalidInput("tail must be a number of lines or 'all'", field="tail")
    return int(value) or None


@router.get("/environments/{env}/containers/{ref}/stats")
async def container_stats(
    env: str, ref: str, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """One sample of CPU %, memory (usage minus inactive file cache), network, block I/O."""
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await resources.container_stats(client, endpoint, ref)


@router.websocket("/environments/{env}/containers/{ref}/exec")
async def container_exec(websocket: WebSocket, env: str, ref: str, context: ContextDep) -> None:
    """A terminal in a running container (operators): ``?shell=/bin/bash&user=root``.
    Binary frames carry terminal bytes; text frames are JSON resize messages."""
    await serve_exec(websocket, context, env, ref)


@router.get("/environments/{env}/events", response_model=None)
async def follow_events(
    env: str, request: Request, context: ContextDep, user: User = Operator
) -> EventSourceResponse:
    """The engine's events as server-sent events ``docker`` (``{type, action, id, name,
    image, time}``). When the engine goes away (a restart), an ``engine`` event says
    ``{"status": "disconnected"}`` and the stream reconnects with backoff, resuming
    from the last event's time; ``{"status": "connected"}`` when it is back."""
    _, client, endpoint = await docker_endpoint(env, context, user)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        since: int | None = None
        delay = 0.5
        while not await request.is_disconnected():
            try:
                yield ServerSentEvent(json.dumps({"status": "connected"}), event="engine")
                async for item in resources.events(client, endpoint, since=since):
                    since = item.get("time") or since
                    delay = 0.5
                    yield ServerSentEvent(json.dumps(item), event="docker")
                message = "the engine closed the event stream"
            except MoorageError as exc:
                message = exc.message
            yield ServerSentEvent(
                json.dumps({"status": "disconnected", "message": message}), event="engine"
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    return EventSourceResponse(stream(), ping=15)
