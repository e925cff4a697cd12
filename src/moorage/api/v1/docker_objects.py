"""Images, registry logins, volumes (with the file browser) and pruning of an
environment (operators). Mutating calls are audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.v1._docker import Operator, docker_endpoint
from moorage.drivers.docker import resources, volume_browser
from moorage.errors import InvalidInput, MoorageError, NotFound
from moorage.models.registry import RegistryCredential
from moorage.models.user import User
from moorage.schemas.environment import (
    ImagePull,
    ImageTag,
    RegistryLogin,
)
from moorage.services.audit import audit, audit_in

router = APIRouter(tags=["docker objects"])

REGISTRY_CONTEXT = "registry.password"


# -- images, volumes, networks -----------------------------------------------------


@router.get("/environments/{env}/images")
async def list_images(env: str, context: ContextDep, user: User = Operator) -> list[dict]:
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await resources.list_images(client, endpoint)


@router.get("/environments/{env}/images/{ref:path}")
async def inspect_image(
    env: str, ref: str, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """The engine's image inspect document with the layer ``history``."""
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await resources.inspect_image(client, endpoint, ref)


@router.delete("/environments/{env}/images/{ref:path}", status_code=204)
async def remove_image(
    env: str,
    ref: str,
    request: Request,
    context: ContextDep,
    user: User = Operator,
    force: bool = False,
) -> Response:
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await resources.list_volumes(client, endpoint)


@router.post("/environments/{env}/volumes", status_code=201)
async def create_volume(
    env: str, name: str, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, str]:
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
    _, client, endpoint = await docker_endpoint(env, context, user)
    return await volume_browser.list_path(client, endpoint, name, path)


@router.get("/environments/{env}/volumes/{name}/file")
async def download_volume_file(
    env: str, name: str, path: str, request: Request, context: ContextDep, user: User = Operator
) -> Response:
    """Download one file of the volume."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
    environment, client, endpoint = await docker_endpoint(env, context, user)
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


@router.post("/environments/{env}/{kind}/prune")
async def prune(
    env: str, kind: str, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """Prune unused ``images`` (dangling), ``volumes`` or ``networks``."""
    environment, client, endpoint = await docker_endpoint(env, context, user)
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
