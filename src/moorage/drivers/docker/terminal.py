"""A workspace's interactive terminal on Docker: an exec with a TTY whose
connection is upgraded to a raw stream (``POST /exec/{id}/start``), as a
:class:`~moorage.drivers.base.TerminalStream`.

Used by :class:`~moorage.drivers.docker.driver.DockerDriver` only. Errors are
translated as in :mod:`._errors` (RuntimeUnavailable, NotFound, Conflict).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiodocker
import aiohttp
from aiodocker.stream import Stream

from moorage.drivers.base import TerminalStream
from moorage.drivers.docker._errors import translated

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["DockerTerminal", "open_terminal"]


class DockerTerminal(TerminalStream):
    """A Docker exec with a TTY (``POST /exec/{id}/start`` upgraded to a raw stream)."""

    def __init__(self, exec_: aiodocker.execs.Exec, stream: Stream) -> None:
        self._exec = exec_
        self._stream = stream
        self._closed = False

    async def read(self) -> bytes | None:
        message = await self._stream.read_out()
        return None if message is None else message.data

    async def write(self, data: bytes) -> None:
        await self._stream.write_in(data)

    async def resize(self, cols: int, rows: int) -> None:
        try:
            await self._exec.resize(h=rows, w=cols)
        except (aiodocker.DockerError, aiohttp.ClientError, TimeoutError):
            # The process ended (a late resize is harmless), or the engine is slow to
            # answer: the TTY keeps its size until the next resize.
            pass

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._stream.close()


async def open_terminal(
    driver: DockerDriver,
    container_id: str,
    *,
    user: str,
    command: list[str],
    cols: int,
    rows: int,
) -> DockerTerminal:
    """Start ``command`` as ``user`` in the container with a TTY of ``cols`` × ``rows``
    (``TERM=xterm-256color``) and return its stream, already upgraded and sized.

    Raises:
        NotFound: no such container.
        Conflict: the container is not running.
        RuntimeUnavailable: the endpoint cannot be reached or fails.
    """
    async with translated(driver.endpoint, "open a terminal"):
        container = driver.client.containers.container(container_id)
        exec_ = await container.exec(
            command,
            stdin=True,
            tty=True,
            user=user,
            environment={"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)},
        )
        stream = exec_.start(detach=False)
        await stream.__aenter__()  # upgrade the connection now, so resize can apply
    terminal = DockerTerminal(exec_, stream)
    await terminal.resize(cols, rows)
    return terminal
