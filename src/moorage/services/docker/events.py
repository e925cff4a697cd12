"""The engine events of an environment (operators), followed across engine restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from moorage.drivers.docker import events
from moorage.errors import MoorageError
from moorage.services.docker._operation import Caller, DockerService, Target

__all__ = ["EventService"]

MAX_BACKOFF_SECONDS = 10.0


class EventService(DockerService):
    """Engine events. :meth:`follow` raises Forbidden below operator and NotFound for
    an unknown environment, before streaming."""

    async def follow(self, caller: Caller, env: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """An endless stream of ``(kind, data)``: ``("docker", {type, action, id, name,
        image, time})`` per engine event; ``("engine", {"status": "connected"})`` when
        the engine's stream opens and ``("engine", {"status": "disconnected",
        "message"})`` when it closes or fails (once, not at every failed retry), after
        which it reconnects with backoff (0.5 s doubling up to 10 s), resuming from
        the last event's time. ``connected`` is said once the engine answered. Unbuffered;
        the reader stops it by closing the iterator."""
        target = await self.target(caller, env)
        target.driver  # noqa: B018 - build it now: RuntimeUnavailable before streaming
        return self._follow(target)

    async def _follow(self, target: Target) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        since: int | None = None
        delay = 0.5
        connected: bool | None = None  # the last status told; said once per change
        while True:
            try:
                # "connected" only once the engine answered: an event that follows it
                # (a container the reader creates next) is never missed.
                async with events.open_events(target.driver, since=since) as stream:
                    connected = True
                    yield "engine", {"status": "connected"}
                    async for item in stream:
                        since = item.get("time") or since
                        delay = 0.5
                        yield "docker", item
                message = "the engine closed the event stream"
            except MoorageError as exc:
                message = exc.message
            if connected is not False:
                connected = False
                yield "engine", {"status": "disconnected", "message": message}
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
