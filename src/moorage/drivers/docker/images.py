"""Images of one engine: list, inspect (with history), pull (streamed progress), tag,
remove; and the reference grammar (:func:`split_reference`).

Errors are translated as in :mod:`._errors`; a failed pull is RuntimeUnavailable
with code ``pull_failed``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiodocker

from moorage.drivers.docker._errors import translated
from moorage.errors import NotFound, RuntimeUnavailable

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = [
    "inspect_image",
    "list_images",
    "pull_image",
    "remove_image",
    "split_reference",
    "tag_image",
]


async def list_images(driver: DockerDriver) -> list[dict[str, Any]]:
    """``[{id, tags, size_bytes, created}]``."""
    async with translated(driver.endpoint, "list images"):
        raw = await driver.client.images.list()
    return [
        {
            "id": i["Id"],
            "tags": i.get("RepoTags") or [],
            "size_bytes": i.get("Size", 0),
            "created": i.get("Created"),
        }
        for i in raw
    ]


def split_reference(reference: str) -> tuple[str, str, str | None]:
    """``(registry host or "", repository, tag or None)`` of an image reference,
    following the Docker reference grammar (the first path component is a registry
    when it has a ``.`` or ``:`` or is ``localhost``)."""
    name, _, digest = reference.partition("@")
    repository, tag = name, None
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    first, _, rest = repository.partition("/")
    host = first if rest and ("." in first or ":" in first or first == "localhost") else ""
    return host, repository, (tag or None) if not digest else f"@{digest}"


async def pull_image(
    driver: DockerDriver, reference: str, auth: dict[str, str] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Pull ``reference``, yielding Docker's progress messages as they come
    (``{"status", "id"?, "progressDetail": {"current", "total"}?}``).

    Raises:
        RuntimeUnavailable: the registry or the engine failed (with Docker's message).
    """
    _, _, tag = split_reference(reference)
    # An untagged name means :latest (never Docker's "pull all tags").
    from_image = reference if tag else f"{reference}:latest"
    async with translated(driver.endpoint, f"pull {reference}"):
        stream = driver.client.images.pull(from_image, auth=auth, stream=True)
        async for message in stream:
            if "error" in message:
                raise RuntimeUnavailable(
                    f"pulling {reference} failed: {message['error']}", code="pull_failed"
                )
            yield message


async def tag_image(driver: DockerDriver, reference: str, repository: str, tag: str) -> None:
    """Give image ``reference`` the name ``repository:tag``."""
    async with translated(driver.endpoint, f"tag {reference}"):
        await driver.client.images.tag(reference, repository, tag=tag)


async def inspect_image(driver: DockerDriver, ref: str) -> dict[str, Any]:
    """``GET /images/{ref}/json`` as the engine gives it, plus ``history``: the layers'
    ``[{created_by, size, created}]`` (``GET /images/{ref}/history``)."""
    async with translated(driver.endpoint, f"inspect image {ref}"):
        try:
            info = await driver.client.images.inspect(ref)
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                raise NotFound(f"no image {ref} in this environment") from exc
            raise
        history: list[dict[str, Any]] = await driver.client.images.history(ref)  # type: ignore[assignment]
    info["history"] = [
        {"created_by": h.get("CreatedBy"), "size": h.get("Size"), "created": h.get("Created")}
        for h in history
    ]
    return info


async def remove_image(driver: DockerDriver, ref: str, *, force: bool = False) -> None:
    async with translated(driver.endpoint, f"remove image {ref}"):
        await driver.client.images.delete(ref, force=force)
