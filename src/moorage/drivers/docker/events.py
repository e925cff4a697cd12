"""The engine's event stream (``GET /events``), read as it comes, with no read timeout."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import NO_READ_TIMEOUT, translated

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["open_events"]


@asynccontextmanager
async def open_events(
    driver: DockerDriver, *, since: int | None = None
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """Open the engine's event stream (``GET /events``, from ``since`` in Unix
    seconds when given) and give its events, one dict per event:
    ``{type, action, id, name, image, time}``. The context is entered once the
    engine has answered, so every event after that point arrives (a caller may say
    "connected" then). The iterator ends when the engine closes the stream (e.g. it
    restarts); the caller reconnects.

    Raises:
        RuntimeUnavailable: the engine cannot be reached.
    """
    params = {"since": str(since)} if since else None
    async with (
        translated(driver.endpoint, "follow events"),
        driver.client._query(
            "events", method="GET", params=params, timeout=NO_READ_TIMEOUT
        ) as response,
    ):
        yield _decoded(response.content.iter_any())


async def _decoded(chunks: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            raw = json.loads(line)
            actor = raw.get("Actor") or {}
            attributes = actor.get("Attributes") or {}
            yield {
                "type": raw.get("Type"),
                "action": raw.get("Action"),
                "id": actor.get("ID"),
                "name": attributes.get("name"),
                "image": attributes.get("image"),
                "time": raw.get("time"),
            }
