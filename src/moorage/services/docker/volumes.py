"""Volumes of an environment (operators): list, create, remove, and their files
(browse, download, upload, delete) through a helper container. Changes are audited as
``volume.<verb>``."""

from __future__ import annotations

from typing import Any

from moorage.drivers.docker import volume_browser, volumes
from moorage.drivers.docker.volume_browser import clean_path
from moorage.errors import InvalidInput
from moorage.services.docker._operation import Caller, DockerService

__all__ = ["MAX_UPLOAD_BYTES", "VolumeService", "clean_path"]

MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class VolumeService(DockerService):
    """Volumes of the caller's environments. Every method raises Forbidden below
    operator, NotFound for an unknown environment, volume or path, InvalidInput for a
    path leaving the volume, RuntimeUnavailable when the engine cannot be reached."""

    async def list_volumes(self, caller: Caller, env: str) -> list[dict[str, Any]]:
        """``[{name, driver, mountpoint, labels, created}]``."""
        target = await self.target(caller, env)
        return await volumes.list_volumes(target.driver)

    async def create(self, caller: Caller, env: str, name: str) -> None:
        """Create volume ``name``."""
        async with self.operation(caller, env, "volume.create", name) as op:
            await volumes.create_volume(op.driver, name)

    async def remove(self, caller: Caller, env: str, name: str) -> None:
        """Remove volume ``name`` (Conflict while a container uses it)."""
        async with self.operation(caller, env, "volume.remove", name) as op:
            await volumes.remove_volume(op.driver, name)

    async def list_path(
        self, caller: Caller, env: str, name: str, path: str
    ) -> list[dict[str, Any]]:
        """Entries of directory ``path`` (relative to the volume's root):
        ``[{name, type: file|dir|symlink, size, mtime}]``."""
        target = await self.target(caller, env)
        return await volume_browser.list_path(target.driver, name, path)

    async def read_file(self, caller: Caller, env: str, name: str, path: str) -> tuple[str, bytes]:
        """``(file name, content)`` of one regular file (audited: ``volume.download``)."""
        async with self.operation(caller, env, "volume.download", name, detail=path) as op:
            return await volume_browser.read_file(op.driver, name, path)

    async def write_file(
        self, caller: Caller, env: str, name: str, directory: str, filename: str, content: bytes
    ) -> str:
        """Write ``content`` (at most :data:`MAX_UPLOAD_BYTES`) as ``directory/filename``;
        returns the path written (audited: ``volume.upload``)."""
        async with self.operation(caller, env, "volume.upload", name) as op:
            if len(content) > MAX_UPLOAD_BYTES:
                raise InvalidInput("the file is over 64 MiB", field="body")
            written = await volume_browser.write_file(op.driver, name, directory, filename, content)
            op.detail = written
        return written

    async def delete_path(self, caller: Caller, env: str, name: str, path: str) -> None:
        """Delete a file, symlink or directory tree (never the root)."""
        async with self.operation(caller, env, "volume.delete_path", name, detail=path) as op:
            await volume_browser.delete_path(op.driver, name, path)
