"""Docker environments and their resources (operators and admins), plus the audit log.

Every mutating call is written to the audit log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.deps import AdminUser, ContextDep, CurrentUser, DbDep, WriteDbDep
from moorage.drivers.docker import resources, volume_browser
from moorage.drivers.docker.tls import CA_CONTEXT, CERT_CONTEXT, KEY_CONTEXT
from moorage.errors import Conflict, InvalidInput, MoorageError, NotFound
from moorage.gateway.exec import serve_exec
from moorage.models.audit import AuditEvent
from moorage.models.environment import Environment
from moorage.models.registry import RegistryCredential
from moorage.models.session import WorkspaceSession
from moorage.models.user import Role, User
from moorage.schemas.environment import (
    ContainerCreate,
    EnvironmentCreate,
    EnvironmentPublic,
    EnvironmentUpdate,
    ImagePull,
    ImageTag,
    RegistryLogin,
)
from moorage.security.rbac import require_role
from moorage.services.audit import audit, audit_in
from moorage.services.environments import docker_of, find_environment

router = APIRouter(tags=["environments"])

REGISTRY_CONTEXT = "registry.password"


async def operator(user: CurrentUser) -> User:
    require_role(user, Role.OPERATOR)
    return user


Operator = Depends(operator)


def environment_public(environment: Environment) -> EnvironmentPublic:
    public = EnvironmentPublic.model_validate(environment)
    public.tls = bool(environment.tls_ca_sealed or environment.tls_cert_sealed)
    return public


def _check_url(url: str) -> str:
    if not url.startswith(("unix:///", "tcp://")):
        raise InvalidInput(
            "url must be unix:///path/to/docker.sock or tcp://host:port", field="url"
        )
    return url


def _seal_tls(environment: Environment, context, body) -> None:
    keyring = context.keyring
    if body.tls_ca is not None:
        environment.tls_ca_sealed = keyring.seal(body.tls_ca.get_secret_value(), CA_CONTEXT)
    if body.tls_cert is not None:
        environment.tls_cert_sealed = keyring.seal(body.tls_cert.get_secret_value(), CERT_CONTEXT)
    if body.tls_key is not None:
        environment.tls_key_sealed = keyring.seal(body.tls_key.get_secret_value(), KEY_CONTEXT)
    if bool(environment.tls_cert_sealed) != bool(environment.tls_key_sealed):
        raise InvalidInput("give tls_cert and tls_key together", field="tls_key")


# -- environments -------------------------------------------------------------------


@router.get("/environments", response_model=list[EnvironmentPublic])
async def list_environments(db: DbDep, user: User = Operator):
    rows = await db.scalars(
        select(Environment)
        .where(Environment.org_id == user.org_id)
        .order_by(Environment.created_at)
    )
    return [environment_public(row) for row in rows]


@router.post("/environments", status_code=201, response_model=EnvironmentPublic)
async def add_environment(
    body: EnvironmentCreate,
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Operator,
):
    """Add an environment and test the connection at once: the answer carries its status
    (``unreachable`` with the error when the test fails; it is kept and retried)."""
    if await db.scalar(select(Environment.id).where(Environment.name == body.name)):
        raise Conflict(f"an environment named {body.name!r} exists", code="environment_exists")
    environment = Environment(
        org_id=user.org_id,
        name=body.name,
        url=_check_url(body.url),
        kind="socket" if body.url.startswith("unix") else "tcp",
    )
    _seal_tls(environment, context, body)
    db.add(environment)
    await db.commit()
    checked = await context.environment_status.check(environment)
    await audit(
        context.sessionmaker, request, user, "environment.add", "environment", environment.name
    )
    return environment_public(checked)


@router.get("/environments/{env}", response_model=EnvironmentPublic)
async def get_environment(env: str, db: DbDep, user: User = Operator):
    return environment_public(await find_environment(db, user.org_id, env))


@router.patch("/environments/{env}", response_model=EnvironmentPublic)
async def update_environment(
    env: str,
    body: EnvironmentUpdate,
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Operator,
):
    """Change the address or TLS material; the connection is tested again."""
    environment = await find_environment(db, user.org_id, env)
    if body.url is not None:
        environment.url = _check_url(body.url)
        environment.kind = "socket" if body.url.startswith("unix") else "tcp"
    _seal_tls(environment, context, body)
    await db.commit()
    await context.drivers.invalidate(environment.id)
    checked = await context.environment_status.check(environment)
    await audit(
        context.sessionmaker, request, user, "environment.update", "environment", environment.name
    )
    return environment_public(checked)


@router.delete("/environments/{env}", status_code=204)
async def remove_environment(
    env: str, request: Request, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> Response:
    """Forget an environment (its containers are left alone). 409 while sessions ran there."""
    environment = await find_environment(db, user.org_id, env)
    if await db.scalar(
        select(WorkspaceSession.id)
        .where(WorkspaceSession.environment_id == environment.id)
        .limit(1)
    ):
        raise Conflict(
            f"sessions have run on {environment.name}; it cannot be removed",
            code="environment_in_use",
        )
    await db.delete(environment)
    await db.commit()
    await context.drivers.invalidate(environment.id)
    await audit(context.sessionmaker, request, user, "environment.remove", "environment", env)
    return Response(status_code=204)


async def _docker(env: str, context, user: User):
    async with context.sessionmaker() as db:
        environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    return environment, driver.client, driver.endpoint


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
    _, client, endpoint = await _docker(env, context, user)
    return await resources.list_containers(
        client, endpoint, state=state, name=name, label=label, stack=stack, size=size
    )


@router.post("/environments/{env}/containers", status_code=201)
async def create_container(
    env: str, body: ContainerCreate, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, str]:
    """Create (and start) a container from a form. Ports bind to ``host_ip``
    (127.0.0.1 unless chosen otherwise)."""
    environment, client, endpoint = await _docker(env, context, user)
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
    _, client, endpoint = await _docker(env, context, user)
    return await resources.inspect_container(client, endpoint, ref)


@router.post("/environments/{env}/containers/{ref}/{action}", status_code=204)
async def container_action(
    env: str, ref: str, action: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """``start``, ``stop``, ``restart``, ``kill``, ``pause`` or ``unpause``."""
    environment, client, endpoint = await _docker(env, context, user)
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


@router.post("/environments/{env}/containers/{ref}/rename", status_code=204)
async def rename_container(
    env: str, ref: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    environment, client, endpoint = await _docker(env, context, user)
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
    environment, client, endpoint = await _docker(env, context, user)
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
    _, client, endpoint = await _docker(env, context, user)
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
    _, client, endpoint = await _docker(env, context, user)
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
    _, client, endpoint = await _docker(env, context, user)

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
            except MoorageError as exc:
                yield ServerSentEvent(
                    json.dumps({"status": "disconnected", "message": exc.message}), event="engine"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    return EventSourceResponse(stream(), ping=15)


# -- images, volumes, networks -----------------------------------------------------


@router.get("/environments/{env}/images")
async def list_images(env: str, context: ContextDep, user: User = Operator) -> list[dict]:
    _, client, endpoint = await _docker(env, context, user)
    return await resources.list_images(client, endpoint)


@router.delete("/environments/{env}/images/{ref:path}", status_code=204)
async def remove_image(
    env: str,
    ref: str,
    request: Request,
    context: ContextDep,
    user: User = Operator,
    force: bool = False,
) -> Response:
    environment, client, endpoint = await _docker(env, context, user)
    await resources.remove_image(client, endpoint, ref, force=force)
    await audit(
        context.sessionmaker,
        request,
        user,
        "image.remove",
        "image",
        ref,
        environment=environment.name,
    )
    return Response(status_code=204)


@router.post("/environments/{env}/images/pull", response_model=None)
async def pull_image(
    env: str,
    body: ImagePull,
    request: Request,
    db: DbDep,
    context: ContextDep,
    user: User = Operator,
) -> EventSourceResponse:
    """Pull an image with live progress: server-sent events ``progress`` (Docker's
    messages: ``{"status", "id", "progressDetail": {"current", "total"}}``), then
    ``done`` (``{"image"}``) or ``error`` (``{"code", "message"}``). Credentials
    stored for the image's registry (``/api/v1/registries``) are used."""
    environment, client, endpoint = await _docker(env, context, user)
    host, _, _ = resources.split_reference(body.image)
    stored = await db.scalar(
        select(RegistryCredential).where(
            RegistryCredential.org_id == user.org_id, RegistryCredential.host == host
        )
    )
    auth = None
    if stored is not None:
        auth = {
            "username": stored.username,
            "serveraddress": host,
            "password": context.keyring.open(stored.password_sealed, REGISTRY_CONTEXT),
        }

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for message in resources.pull_image(client, endpoint, body.image, auth):
                yield ServerSentEvent(json.dumps(message), event="progress")
        except MoorageError as exc:
            yield ServerSentEvent(
                json.dumps({"code": exc.code, "message": exc.message}), event="error"
            )
            return
        await audit(
            context.sessionmaker,
            request,
            user,
            "image.pull",
            "image",
            body.image,
            environment=environment.name,
        )
        yield ServerSentEvent(json.dumps({"image": body.image}), event="done")

    return EventSourceResponse(events(), ping=15)


@router.post("/environments/{env}/images/tag", status_code=204)
async def tag_image(
    env: str, body: ImageTag, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """Name an image ``repository:tag``."""
    environment, client, endpoint = await _docker(env, context, user)
    await resources.tag_image(client, endpoint, body.image, body.repository, body.tag)
    await audit(
        context.sessionmaker,
        request,
        user,
        "image.tag",
        "image",
        body.image,
        environment=environment.name,
        detail=f"{body.repository}:{body.tag}",
    )
    return Response(status_code=204)


@router.get("/registries")
async def list_registries(db: DbDep, user: User = Operator) -> list[dict[str, str]]:
    """Stored registry logins (passwords are never shown)."""
    rows = await db.scalars(
        select(RegistryCredential)
        .where(RegistryCredential.org_id == user.org_id)
        .order_by(RegistryCredential.host)
    )
    return [{"host": row.host, "username": row.username} for row in rows]


@router.put("/registries/{host}", status_code=204)
async def store_registry(
    host: str,
    body: RegistryLogin,
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Operator,
) -> Response:
    """Store (or replace) the login for registry ``host`` (e.g. ``127.0.0.1:5000``),
    the password sealed with the keyring."""
    row = await db.scalar(select(RegistryCredential).where(RegistryCredential.host == host))
    if row is None:
        row = RegistryCredential(
            org_id=user.org_id, host=host, username=body.username, password_sealed=""
        )
        db.add(row)
    row.username = body.username
    row.password_sealed = context.keyring.seal(body.password.get_secret_value(), REGISTRY_CONTEXT)
    audit_in(db, user, "registry.store", "registry", host)
    await db.commit()
    return Response(status_code=204)


@router.delete("/registries/{host}", status_code=204)
async def forget_registry(host: str, db: WriteDbDep, user: User = Operator) -> Response:
    row = await db.scalar(
        select(RegistryCredential).where(
            RegistryCredential.org_id == user.org_id, RegistryCredential.host == host
        )
    )
    if row is None:
        raise NotFound(f"no login stored for {host}", code="registry_not_found")
    await db.delete(row)
    audit_in(db, user, "registry.forget", "registry", host)
    await db.commit()
    return Response(status_code=204)


@router.get("/environments/{env}/volumes")
async def list_volumes(env: str, context: ContextDep, user: User = Operator) -> list[dict]:
    _, client, endpoint = await _docker(env, context, user)
    return await resources.list_volumes(client, endpoint)


@router.post("/environments/{env}/volumes", status_code=201)
async def create_volume(
    env: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, str]:
    environment, client, endpoint = await _docker(env, context, user)
    await resources.create_volume(client, endpoint, name)
    await audit(
        context.sessionmaker,
        request,
        user,
        "volume.create",
        "volume",
        name,
        environment=environment.name,
    )
    return {"name": name}


@router.delete("/environments/{env}/volumes/{name}", status_code=204)
async def remove_volume(
    env: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    environment, client, endpoint = await _docker(env, context, user)
    await resources.remove_volume(client, endpoint, name)
    await audit(
        context.sessionmaker,
        request,
        user,
        "volume.remove",
        "volume",
        name,
        environment=environment.name,
    )
    return Response(status_code=204)


@router.get("/environments/{env}/volumes/{name}/files")
async def browse_volume(
    env: str, name: str, context: ContextDep, user: User = Operator, path: str = ""
) -> list[dict[str, Any]]:
    """Entries of a directory of the volume (``path`` relative to its root):
    ``[{name, type: file|dir|symlink, size, mtime}]``. ``..``, absolute paths and
    symlinks leading outside the volume are refused (422)."""
    _, client, endpoint = await _docker(env, context, user)
    return await volume_browser.list_path(client, endpoint, name, path)


@router.get("/environments/{env}/volumes/{name}/file")
async def download_volume_file(
    env: str, name: str, path: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """Download one file of the volume."""
    environment, client, endpoint = await _docker(env, context, user)
    filename, content = await volume_browser.read_file(client, endpoint, name, path)
    await audit(
        context.sessionmaker,
        request,
        user,
        "volume.download",
        "volume",
        name,
        environment=environment.name,
        detail=path,
    )
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/environments/{env}/volumes/{name}/files", status_code=201)
async def upload_volume_file(
    env: str,
    name: str,
    request: Request,
    context: ContextDep,
    user: User = Operator,
    path: str = "",
    filename: str = "",
) -> dict[str, str]:
    """Upload the request body as ``path/filename`` in the volume (64 MiB at most)."""
    environment, client, endpoint = await _docker(env, context, user)
    content = await request.body()
    if len(content) > 64 * 1024 * 1024:
        raise InvalidInput("the file is over 64 MiB", field="body")
    written = await volume_browser.write_file(client, endpoint, name, path, filename, content)
    await audit(
        context.sessionmaker,
        request,
        user,
        "volume.upload",
        "volume",
        name,
        environment=environment.name,
        detail=written,
    )
    return {"path": written}


@router.delete("/environments/{env}/volumes/{name}/files", status_code=204)
async def delete_volume_file(
    env: str, name: str, path: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """Delete a file, a symlink or a directory tree of the volume (never its root)."""
    environment, client, endpoint = await _docker(env, context, user)
    await volume_browser.delete_path(client, endpoint, name, path)
    await audit(
        context.sessionmaker,
        request,
        user,
        "volume.delete_path",
        "volume",
        name,
        environment=environment.name,
        detail=path,
    )
    return Response(status_code=204)


@router.get("/environments/{env}/networks")
async def list_networks(env: str, context: ContextDep, user: User = Operator) -> list[dict]:
    _, client, endpoint = await _docker(env, context, user)
    return await resources.list_networks(client, endpoint)


@router.post("/environments/{env}/networks", status_code=201)
async def create_network(
    env: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, str]:
    environment, client, endpoint = await _docker(env, context, user)
    network_id = await resources.create_network(client, endpoint, name)
    await audit(
        context.sessionmaker,
        request,
        user,
        "network.create",
        "network",
        name,
        environment=environment.name,
    )
    return {"id": network_id, "name": name}


@router.delete("/environments/{env}/networks/{ref}", status_code=204)
async def remove_network(
    env: str, ref: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    environment, client, endpoint = await _docker(env, context, user)
    await resources.remove_network(client, endpoint, ref)
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


@router.post("/environments/{env}/{kind}/prune")
async def prune(
    env: str, kind: str, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """Prune unused ``images`` (dangling), ``volumes`` or ``networks``."""
    environment, client, endpoint = await _docker(env, context, user)
    result = await resources.prune(client, endpoint, kind)
    await audit(
        context.sessionmaker,
        request,
        user,
        f"{kind}.prune",
        kind,
        "*",
        environment=environment.name,
    )
    return result


# -- audit -----------------------------------------------------------------------------


@router.get("/audit")
async def list_audit(
    db: DbDep,
    admin: AdminUser,
    limit: int = 200,
    action: str | None = None,
    username: str | None = None,
) -> list[dict[str, Any]]:
    """Admins: the newest audit events first (``limit`` ≤ 1000), filtered by ``action``
    prefix and ``username``."""
    query = select(AuditEvent).where(AuditEvent.org_id == admin.org_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if username:
        query = query.where(AuditEvent.username == username)
    rows = await db.scalars(query.order_by(AuditEvent.at.desc()).limit(max(1, min(limit, 1000))))
    return [
        {
            "at": row.at,
            "username": row.username,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "environment": row.environment,
            "source": row.source,
            "detail": row.detail,
        }
        for row in rows
    ]


__all__ = ["router"]
