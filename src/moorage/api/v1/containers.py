"""Containers of an environment: list, create, inspect, actions, logs, stats, exec,
and the engine's events (operators). The Docker services check the role and write
the audit log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.deps import ContextDep
from moorage.api.event_stream import event_stream
from moorage.api.pagination import Page
from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.gateway.exec import serve_exec
from moorage.models.user import Role
from moorage.schemas.environment import ContainerCreate
from moorage.security.access import Allow
from moorage.services.docker.containers import parse_tail

router = APIRouter(tags=["containers"])


@router.get("/environments/{env}/containers", dependencies=[Allow(Role.OPERATOR)])
async def list_containers(
    env: str,
    docker: DockerDep,
    caller: OperatorCaller,
    state: str | None = None,
    name: str | None = None,
    label: str | None = None,
    stack: str | None = None,
    size: bool = False,
    *,
    page: Page,
    request: Request,
    response: Response,
) -> list[dict[str, Any]]:
    """Containers, running or not. Filters: ``state``, ``name``, ``label``, ``stack``;
    sizes only with ``size=true``. Pages: ``limit`` and ``cursor``, the next page's URL
    in ``Link``."""
    return page.apply(
        request,
        response,
        await docker.containers.list_containers(
            caller, env, state=state, name=name, label=label, stack=stack, size=size
        ),
    )


@router.post("/environments/{env}/containers", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_container(
    env: str, body: ContainerCreate, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Create (and start) a container from a form. Ports bind to ``host_ip``
    (127.0.0.1 unless chosen otherwise). 201 ``{id}``."""
    return {"id": await docker.containers.create(caller, env, body)}


@router.get("/environments/{env}/containers/{ref}", dependencies=[Allow(Role.OPERATOR)])
async def inspect_container(
    env: str, ref: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """The engine's inspect document of a container (id or name); 404 when unknown."""
    return await docker.containers.inspect(caller, env, ref)


@router.post(
    "/environments/{env}/containers/{ref}/rename",
    status_code=204,
    dependencies=[Allow(Role.OPERATOR)],
)
async def rename_container(
    env: str, ref: str, name: str, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Rename a container to ``name``."""
    await docker.containers.rename(caller, env, ref, name)
    return Response(status_code=204)


@router.post(
    "/environments/{env}/containers/{ref}/{action}",
    status_code=204,
    dependencies=[Allow(Role.OPERATOR)],
)
async def container_action(
    env: str, ref: str, action: str, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """``start``, ``stop``, ``restart``, ``kill``, ``pause`` or ``unpause``."""
    await docker.containers.act(caller, env, ref, action)
    return Response(status_code=204)


@router.delete(
    "/environments/{env}/containers/{ref}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def remove_container(
    env: str, ref: str, docker: DockerDep, caller: OperatorCaller, volumes: bool = False
) -> Response:
    """Remove a container (force); with ``volumes=true`` its anonymous volumes too."""
    await docker.containers.remove(caller, env, ref, volumes=volumes)
    return Response(status_code=204)


@router.get(
    "/environments/{env}/containers/{ref}/logs",
    response_model=None,
    dependencies=[Allow(Role.OPERATOR)],
)
async def container_logs(
    env: str,
    ref: str,
    docker: DockerDep,
    caller: OperatorCaller,
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
    lines_wanted = parse_tail(tail)
    if not follow:
        lines = await docker.containers.read_logs(
            caller, env, ref, tail=lines_wanted, since=since, timestamps=timestamps
        )
        text = "".join(f"{stream} {line}\n" for stream, line in lines)
        headers = (
            {"Content-Disposition": f'attachment; filename="{ref[:32]}.log"'} if download else None
        )
        return PlainTextResponse(text, headers=headers)
    batches = await docker.containers.follow_logs(
        caller, env, ref, tail=lines_wanted, since=since, timestamps=timestamps
    )

    async def events() -> AsyncIterator[ServerSentEvent]:
        # One event per batch of lines read together: its data has one `data:` field per
        # line (the SSE format joins them with newlines), far cheaper than one event a line.
        async for stream, lines in batches:
            yield ServerSentEvent("\n".join(lines), event=stream)

    return event_stream(events())


@router.get("/environments/{env}/containers/{ref}/stats", dependencies=[Allow(Role.OPERATOR)])
async def container_stats(
    env: str, ref: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """One sample of CPU %, memory (usage minus inactive file cache), network, block I/O."""
    return await docker.containers.stats(caller, env, ref)


@router.websocket("/environments/{env}/containers/{ref}/exec", dependencies=[Allow(Role.OPERATOR)])
async def container_exec(websocket: WebSocket, env: str, ref: str, context: ContextDep) -> None:
    """A terminal in a running container (operators): ``?shell=/bin/bash&user=root``.
    Binary frames carry terminal bytes; text frames are JSON resize messages."""
    await serve_exec(websocket, context, env, ref)


@router.get("/environments/{env}/events", response_model=None, dependencies=[Allow(Role.OPERATOR)])
async def follow_events(env: str, docker: DockerDep, caller: OperatorCaller) -> EventSourceResponse:
    """The engine's events as server-sent events ``docker`` (``{type, action, id, name,
    image, time}``). When the engine goes away (a restart), an ``engine`` event says
    ``{"status": "disconnected"}`` and the stream reconnects with backoff, resuming
    from the last event's time; ``{"status": "connected"}`` when it is back."""
    stream = await docker.events.follow(caller, env)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for kind, data in stream:
            yield ServerSentEvent(json.dumps(data), event=kind)

    return event_stream(events())
