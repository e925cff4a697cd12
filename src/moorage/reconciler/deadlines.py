"""A deadline queue: wakes exactly when the earliest deadline is due.

A binary heap of ``(deadline, sequence, key)``. Rescheduling or cancelling a
key leaves its old heap entry in place; entries whose deadline no longer
matches the key's current one are skipped when they surface (lazy deletion),
so every operation is O(log n).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from moorage.db.base import utcnow

__all__ = ["DeadlineQueue"]

K = TypeVar("K", bound=Hashable)


class DeadlineQueue(Generic[K]):
    """Keys with a deadline each (UTC datetimes).

    Args:
        clock: returns the current UTC time; injected for tests.
    """

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._heap: list[tuple[datetime, int, K]] = []
        self._deadlines: dict[K, datetime] = {}
        self._sequence = itertools.count()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._deadlines)

    def __contains__(self, key: object) -> bool:
        return key in self._deadlines

    def deadline(self, key: K) -> datetime | None:
        """The current deadline of ``key``, or None when it is not queued."""
        return self._deadlines.get(key)

    def schedule(self, key: K, at: datetime) -> None:
        """Set (or move) the deadline of ``key`` to ``at`` and wake a waiter if it
        is now the earliest."""
        if self._deadlines.get(key) == at:
            return
        self._deadlines[key] = at
        heapq.heappush(self._heap, (at, next(self._sequence), key))
        self._changed.set()

    def cancel(self, key: K) -> None:
        """Forget ``key``; a no-op when it is not queued."""
        self._deadlines.pop(key, None)

    def next_deadline(self) -> datetime | None:
        """The earliest live deadline, or None when the queue is empty."""
        while self._heap:
            at, _, key = self._heap[0]
            if self._deadlines.get(key) == at:
                return at
            heapq.heappop(self._heap)  # stale entry: rescheduled or cancelled
        return None

    def pop_due(self, now: datetime | None = None) -> list[tuple[K, datetime]]:
        """Remove and return every ``(key, deadline)`` due at ``now``, earliest first."""
        now = now or self._clock()
        due: list[tuple[K, datetime]] = []
        while (at := self.next_deadline()) is not None and at <= now:
            _, _, key = heapq.heappop(self._heap)
            del self._deadlines[key]
            due.append((key, at))
        return due

    async def wait_due(self) -> list[tuple[K, datetime]]:
        """Sleep until at least one deadline is due, then pop and return the due ones.

        A :meth:`schedule` of an earlier deadline while waiting shortens the sleep.
        """
        while True:
            self._changed.clear()
            due = self.pop_due()
            if due:
                return due
            at = self.next_deadline()
            timeout = None if at is None else max(0.0, (at - self._clock()).total_seconds())
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass
