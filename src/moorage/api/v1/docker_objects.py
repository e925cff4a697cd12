"""Images, registry logins, volumes (with the file browser) and pruning of an
environment (operators). The Docker services check the role and write the audit log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.event_stream import event_stream
from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.errors import MoorageError
from moorage.models.user import Role
from moorage.schemas.environment import ImagePull, ImageTag, RegistryLogin
from moorage.security.access import Allow

router = APIRouter(tags=["docker objects"])


# -- images -------------------------------------------------------------------------


@router.get("/environments/{env}/images", dependencies=[Allow(Role.OPERATOR)])
async def list_images(env: str, docker: DockerDep, caller: OperatorCaller) -> list[dict]:
    """``[{id, tags, size_bytes, created}]``; 503 when the engine is unreachable."""
    return await docker.images.list_images(caller, env)


@router.get("/environments/{env}/images/{ref:path}", dependencies=[Allow(Role.OPERATOR)])
async def inspect_image(
    env: str, ref: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """The engine's image inspect document with the layer ``history``."""
    return await docker.images.inspect(caller, env, ref)


@router.delete(
    "/environments/{env}/images/{ref:path}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def remove_image(
    env: str, ref: str, docker: DockerDep, caller: OperatorCaller, force: bool = False
) -> Response:
    """Remove an image; 409 while a container uses it (unless ``force=true``)."""
    await docker.images.remove(caller, env, ref, force=force)
    return Response(status_code=204)


@router.post(
    "/environments/{env}/images/pull", response_model=None, dependencies=[Allow(Role.OPERATOR)]
)
async def pull_image(
    env: str, body: ImagePull, docker: DockerDep, caller: OperatorCaller
) -> EventSourceResponse:
    """Pull an image with live progress: server-sent events ``progress`` (Docker's
    messages: ``{"status", "id", "progressDetail": {"current", "total"}}``), then
    ``done`` (``{"image"}``) or ``error`` (``{"code", "message"}``). Credentials
    stored for the image's registry (``/api/v1/registries``) are used."""
    progress = await docker.images.pull(caller, env, body.image)

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for message in progress:
                yield ServerSentEvent(json.dumps(message), event="progress")
        except MoorageError as exc:
            yield ServerSentEvent(
                json.dumps({"code": exc.code, "message": exc.message}), event="error"
            )
            return
        yield ServerSentEvent(json.dumps({"image": body.image}), event="done")

    return event_stream(events())


@router.post("/environments/{env}/images/tag", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def tag_image(
    env: str, body: ImageTag, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Name an image ``repository:tag``."""
    await docker.images.tag(caller, env, body.image, body.repository, body.tag)
    return Response(status_code=204)


# -- registry logins ----------------------------------------------------------------


@router.get("/registries", dependencies=[Allow(Role.OPERATOR)])
async def list_registries(docker: DockerDep, caller: OperatorCaller) -> list[dict[str, str]]:
    """Stored registry logins (passwords are never shown)."""
    return await docker.registries.list_logins(caller.user)


@router.put("/registries/{host}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def store_registry(
    host: str, body: RegistryLogin, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Store (or replace) the login for registry ``host`` (e.g. ``127.0.0.1:5000``),
    the password sealed with the keyring."""
    await docker.registries.store(
        caller.user, host, body.username, body.password.get_secret_value()
    )
    return Response(status_code=204)


@router.delete("/registries/{host}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def forget_registry(host: str, docker: DockerDep, caller: OperatorCaller) -> Response:
    """Forget the login for registry ``host``; 404 when none is stored."""
    await docker.registries.forget(caller.user, host)
    return Response(status_code=204)


# -- volumes ------------------------------------------------------------------------


@router.get("/environments/{env}/volumes", dependencies=[Allow(Role.OPERATOR)])
async def list_volumes(env: str, docker: DockerDep, caller: OperatorCaller) -> list[dict]:
    """``[{name, driver, mountpoint, labels, created}]``."""
    return await docker.volumes.list_volumes(caller, env)


@router.post("/environments/{env}/volumes", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_volume(
    env: str, name: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Create volume ``name``; 201 ``{name}``."""
    await docker.volumes.create(caller, env, name)
    return {"name": name}


@router.delete(
    "/environments/{env}/volumes/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def remove_volume(env: str, name: str, docker: DockerDep, caller: OperatorCaller) -> Response:
    """Remove a volume; 409 while a container uses it."""
    await docker.volumes.remove(caller, env, name)
    return Response(status_code=204)


@router.get("/environments/{env}/volumes/{name}/files", dependencies=[Allow(Role.OPERATOR)])
async def browse_volume(
    env: str, name: str, docker: DockerDep, caller: OperatorCaller, path: str = ""
) -> list[dict[str, Any]]:
    """Entries of a directory of the volume (``path`` relative to its root):
    ``[{name, type: file|dir|symlink, size, mtime}]``. ``..``, absolute paths and
    symlinks leading outside the volume are refused (422)."""
    return await docker.volumes.list_path(caller, env, name, path)


@router.get("/environments/{env}/volumes/{name}/file", dependencies=[Allow(Role.OPERATOR)])
async def download_volume_file(
    env: str, name: str, path: str, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Download one file of the volume."""
    filename, content = await docker.volumes.read_file(caller, env, name, path)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/environments/{env}/volumes/{name}/files", status_code=201, dependencies=[Allow(Role.OPERATOR)]
)
async def upload_volume_file(
    env: str,
    name: str,
    request: Request,
    docker: DockerDep,
    caller: OperatorCaller,
    path: str = "",
    filename: str = "",
) -> dict[str, str]:
    """Upload the request body as ``path/filename`` in the volume (64 MiB at most)."""
    content = await request.body()
    written = await docker.volumes.write_file(caller, env, name, path, filename, content)
    return {"path": written}


@router.delete(
    "/environments/{env}/volumes/{name}/files", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def delete_volume_file(
    env: str, name: str, path: str, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Delete a file, a symlink or a directory tree of the volume (never its root)."""
    await docker.volumes.delete_path(caller, env, name, path)
    return Response(status_code=204)


# -- prune --------------------------------------------------------------------------


@router.post("/environments/{env}/{kind}/prune", dependencies=[Allow(Role.OPERATOR)])
async def prune(env: str, kind: str, docker: DockerDep, caller: OperatorCaller) -> dict[str, Any]:
    """Prune unused ``images`` (dangling), ``volumes`` or ``networks``."""
    return await docker.prune.prune(caller, env, kind)
