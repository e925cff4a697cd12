"""Container logs: Docker's multiplexed log stream read incrementally, split into
``stdout`` and ``stderr`` lines (Engine API ``GET /containers/{id}/logs``).

A follow has no read timeout: an idle container's follow stays open until the
caller stops reading. Errors are translated as in :mod:`._errors`.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import NO_READ_TIMEOUT, translated
from moorage.drivers.docker.containers import inspect_container

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["follow_log_batches", "follow_logs", "read_logs"]

STREAMS = {1: "stdout", 2: "stderr"}


def _log_params(
    *, tail: int | None, since: int | None, timestamps: bool, follow: bool
) -> dict[str, str]:
    params = {
        "stdout": "1",
        "stderr": "1",
        "follow": "1" if follow else "0",
        "timestamps": "1" if timestamps else "0",
        "tail": str(tail) if tail else "all",
    }
    if since:
        params["since"] = str(since)
    return params


async def _frames(response: Any, tty: bool) -> AsyncIterator[tuple[str, bytes]]:
    """Demultiplex Docker's log stream incrementally: 8-byte headers ``[stream, 0, 0, 0,
    size (big-endian u32)]`` then the payload (Engine API, "Attach to a container");
    a TTY container's stream is raw stdout. Consecutive frames of one stream within a
    read are merged (the json-file driver sends one frame per line)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        if tty:
            yield "stdout", chunk
            continue
        buffer += chunk
        offset = 0
        current = "stdout"
        parts: list[bytes] = []
        while len(buffer) - offset >= 8:
            stream_id, size = struct.unpack_from(">BxxxL", buffer, offset)
            if len(buffer) - offset < 8 + size:
                break
            stream = STREAMS.get(stream_id, "stdout")
            if stream != current and parts:
                yield current, b"".join(parts)
                parts = []
            current = stream
            parts.append(buffer[offset + 8 : offset + 8 + size])
            offset += 8 + size
        if parts:
            yield current, b"".join(parts)
        buffer = buffer[offset:]


async def _line_batches(
    frames: AsyncIterator[tuple[str, bytes]],
) -> AsyncIterator[tuple[str, list[str]]]:
    """Complete lines, batched per frame: ``(stream, [line, …])``. A line split across
    frames is held back until its end arrives (per stream)."""
    pending = {"stdout": b"", "stderr": b""}
    async for stream, data in frames:
        *complete, pending[stream] = (pending[stream] + data).split(b"\n")
        if complete:
            yield stream, [line.decode(errors="replace") for line in complete]
    for stream, rest in pending.items():
        if rest:
            yield stream, [rest.decode(errors="replace")]


async def follow_log_batches(
    driver: DockerDriver,
    ref: str,
    *,
    tail: int | None = 100,
    since: int | None = None,
    timestamps: bool = False,
    follow: bool = True,
) -> AsyncIterator[tuple[str, list[str]]]:
    """Log lines in batches, ``(stream, [line, …])`` with ``stream`` ``stdout`` or
    ``stderr``, read incrementally (never buffering the whole log) and, with
    ``follow``, with no read timeout, so an idle container's follow stays open."""
    info = await inspect_container(driver, ref)
    tty = bool(info.get("Config", {}).get("Tty"))
    params = _log_params(tail=tail, since=since, timestamps=timestamps, follow=follow)
    async with (
        translated(driver.endpoint, f"read the logs of {ref}"),
        driver.client._query(
            f"containers/{ref}/logs",
            method="GET",
            params=params,
            timeout=NO_READ_TIMEOUT,
        ) as response,
    ):
        async for batch in _line_batches(_frames(response, tty)):
            yield batch


async def follow_logs(
    driver: DockerDriver,
    ref: str,
    *,
    tail: int | None = 100,
    since: int | None = None,
    timestamps: bool = False,
    follow: bool = True,
) -> AsyncIterator[tuple[str, str]]:
    """Like :func:`follow_log_batches`, one ``(stream, line)`` at a time."""
    async for stream, lines in follow_log_batches(
        driver, ref, tail=tail, since=since, timestamps=timestamps, follow=follow
    ):
        for line in lines:
            yield stream, line


async def read_logs(
    driver: DockerDriver,
    ref: str,
    *,
    tail: int | None = 100,
    since: int | None = None,
    timestamps: bool = False,
) -> list[tuple[str, str]]:
    """The last ``tail`` lines (all when None) as ``(stream, line)`` pairs."""
    return [
        pair
        async for pair in follow_logs(
            driver, ref, tail=tail, since=since, timestamps=timestamps, follow=False
        )
    ]
