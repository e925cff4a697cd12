"""When a warm pool's refill may start: after a burst of claims.

A class arriving at once claims its pool in a burst. Starting the refill's
containers in the middle of it makes Docker and the database serve both at once,
and every claimant waits longer; so the keeper's starts wait until this process
made no claim for a moment (:meth:`ClaimBursts.pause`), or, under steady claims,
at most :data:`PAUSE_WAIT_MAX` seconds.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["PAUSE_WAIT_MAX", "ClaimBursts"]

PAUSE_WAIT_MAX = 10.0
"""Seconds a refill waits at most for claims to pause."""


class ClaimBursts:
    """The time of this process's last claim.

    Args:
        quiet_seconds: how long without a claim makes a pause; 0 never waits.
    """

    def __init__(self, quiet_seconds: float = 0.0) -> None:
        self.quiet_seconds = quiet_seconds
        self.last = float("-inf")
        """``time.monotonic()`` of the last claim."""

    def claimed(self) -> None:
        """A claim was made now."""
        self.last = time.monotonic()

    async def pause(self, at_most_seconds: float = PAUSE_WAIT_MAX) -> None:
        """Return once no claim was made for ``quiet_seconds``, or after
        ``at_most_seconds``."""
        waited = 0.0
        while waited < at_most_seconds:
            quiet_for = time.monotonic() - self.last
            if quiet_for >= self.quiet_seconds:
                return
            wait = min(self.quiet_seconds - quiet_for, at_most_seconds - waited)
            await asyncio.sleep(wait)
            waited += wait
