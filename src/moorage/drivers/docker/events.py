"""The engine's event stream (``GET /events``), read as it comes, with no read timeout."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import NO_READ_TIMEOUT, translated

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["events"]


async def events(
    driver: DockerDriver, *, since: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """The engine's event stream (``GET /events``), one dict per event:
    ``{type, action, id, name, image, time}`` (``time`` in Unix seconds). Ends when the
    engine closes the stream (e.g. it restarts); the caller reconnects."""
    params = {"since": str(since)} if since else None
    async with (
        translated(driver.endpoint, "follow events"),
        driver.client._query(
            "events", method="GET", params=params, timeout=NO_READ_TIMEOUT
        ) as response,
    ):
        buffer = b""
        async for chunk in response.content.iter_any():
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
