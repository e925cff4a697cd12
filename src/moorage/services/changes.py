"""An in-process feed of "this user's sessions changed", for live pages (SSE).

Only this process's changes are published; pages also refresh on a timer, so
changes made by another replica or the worker show up a little later.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["ChangeFeed"]


class ChangeFeed:
    """Fan-out of user ids to every subscriber. Subscribers that fall behind by
    more than ``backlog`` messages lose the oldest; they refresh anyway."""

    def __init__(self, backlog: int = 100) -> None:
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._backlog = backlog

    def publish(self, user_id: str) -> None:
        """Tell every subscriber that ``user_id``'s sessions changed. Never blocks."""
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(user_id)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str]]:
        """A queue of user ids, live for the ``async with`` block."""
        queue: asyncio.Queue[str] = asyncio.Queue(self._backlog)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
