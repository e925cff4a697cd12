"""Commands run in a workspace container to completion (a Docker exec without a
TTY), their exit code and output kept: what a broadcast to terminal workspaces
runs (:mod:`moorage.services.broadcast_exec`).

Used by :class:`~moorage.drivers.docker.driver.DockerDriver` only. Errors are
translated as in :mod:`._errors` (RuntimeUnavailable, NotFound, Conflict).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from moorage.drivers.base import CommandResult
from moorage.drivers.docker._errors import translated

if TYPE_CHECKING:
    import aiodocker

    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["run_command"]


async def run_command(
    driver: DockerDriver,
    container: aiodocker.containers.DockerContainer,
    command: list[str],
    user: str,
    max_output_bytes: int,
) -> CommandResult:
    """Run ``command`` as ``user`` (the image's when empty), read its standard output
    and error (keeping the first ``max_output_bytes``) until it exits, and answer its
    exit code (see :meth:`~moorage.drivers.base.ContainerDriver.run_command`).

    Raises:
        NotFound: no such container. Conflict: the container is not running.
        RuntimeUnavailable: the engine cannot be reached or fails.
    """
    kept = bytearray()
    truncated = False
    async with translated(driver.endpoint, f"run {command[0]} in the container"):
        exec_ = await container.exec(command, stdout=True, stderr=True, user=user or "")
        async with exec_.start(detach=False) as stream:
            while (message := await stream.read_out()) is not None:
                room = max_output_bytes - len(kept)
                if len(message.data) > room:
                    truncated = True
                kept += message.data[:room]
        info = await exec_.inspect()
        for _ in range(50):  # the stream may close a moment before the exec is reaped
            if not info.get("Running"):
                break
            await asyncio.sleep(0.02)
            info = await exec_.inspect()
    exit_code = info.get("ExitCode")
    return CommandResult(
        exit_code=exit_code if isinstance(exit_code, int) else -1,
        output=bytes(kept),
        truncated=truncated,
    )
