"""Images of an environment (operators): list, inspect, pull with live progress, tag,
remove. Changes are audited as ``image.<verb>``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.drivers.docker import images
from moorage.drivers.pool import DriverPool
from moorage.services.docker._operation import Caller, DockerService, Target
from moorage.services.docker.registries import RegistryService

__all__ = ["ImageService"]


class ImageService(DockerService):
    """Images of the caller's environments. Every method raises Forbidden below
    operator, NotFound for an unknown environment or image, RuntimeUnavailable when
    the engine cannot be reached.

    Args:
        registries: where a pull finds the login of the image's registry.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        registries: RegistryService,
    ) -> None:
        super().__init__(sessionmaker, drivers)
        self._registries = registries

    async def list_images(self, caller: Caller, env: str) -> list[dict[str, Any]]:
        """``[{id, tags, size_bytes, created}]``."""
        target = await self.target(caller, env)
        return await images.list_images(target.driver)

    async def inspect(self, caller: Caller, env: str, ref: str) -> dict[str, Any]:
        """The engine's inspect document with the layer ``history``."""
        target = await self.target(caller, env)
        return await images.inspect_image(target.driver, ref)

    async def remove(self, caller: Caller, env: str, ref: str, *, force: bool = False) -> None:
        """Remove image ``ref`` (Conflict while a container uses it, unless ``force``)."""
        async with self.operation(caller, env, "image.remove", ref) as op:
            await images.remove_image(op.driver, ref, force=force)

    async def tag(self, caller: Caller, env: str, image: str, repository: str, tag: str) -> None:
        """Name ``image`` ``repository:tag``."""
        async with self.operation(
            caller, env, "image.tag", image, detail=f"{repository}:{tag}"
        ) as op:
            await images.tag_image(op.driver, image, repository, tag)

    async def pull(self, caller: Caller, env: str, image: str) -> AsyncIterator[dict[str, Any]]:
        """Pull ``image`` with the org's stored login for its registry, if any.

        The checks run now (their errors come before streaming); the returned stream
        yields Docker's progress messages as they come, unbuffered, and writes the
        audit event ``image.pull`` once the pull finished. It raises
        RuntimeUnavailable (code ``pull_failed``) when the registry or engine fails.
        """
        target = await self.target(caller, env)
        target.driver  # noqa: B018 - build it now: RuntimeUnavailable before streaming
        auth = await self._registries.auth_for(caller.user.org_id, image)
        return self._pull(caller, target, image, auth)

    async def _pull(
        self, caller: Caller, target: Target, image: str, auth: dict[str, str] | None
    ) -> AsyncIterator[dict[str, Any]]:
        async for message in images.pull_image(target.driver, image, auth):
            yield message
        await self.record(caller, target, "image.pull", image)
