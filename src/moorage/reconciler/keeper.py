"""The contract between the reconciler and each kind of lease it keeps."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime

__all__ = ["LeaseKeeper", "Schedule", "cut_off"]

Schedule = Callable[[str, datetime], None]
"""``schedule(lease_id, expires_at)``: put (or move) a deadline in the reconciler's queue."""


class LeaseKeeper(ABC):
    """Keeps one kind of lease (sessions, reservations) in line with its runtime.

    The reconciler calls these only while its process leads; a keeper never
    raises for an unreachable runtime (it logs once and retries on the next pass).
    """

    kind: str
    """Short name of the lease kind, e.g. ``"session"``; part of deadline keys."""

    @abstractmethod
    async def expire(self, lease_id: str, deadline: datetime) -> bool | None:
        """Called when ``deadline`` passed. Release the lease if it is still ready and
        still due.

        Returns:
            True when released now (its lateness is recorded), False when the release
            is left for a retry, None when there was nothing to do (extended, ended).
        """

    @abstractmethod
    async def reconcile(self, schedule: Schedule) -> None:
        """A full pass: schedule every ready lease's deadline, repair drift both ways,
        retry unfinished releases, fail launches cut off by a crash."""


def cut_off(
    instance_id: str | None,
    created_at: datetime,
    *,
    me: str,
    alive: set[str],
    exclusive: bool,
    now: datetime,
    timeout_seconds: float,
) -> bool:
    """True when a lease still being provisioned by ``instance_id`` will never finish:
    that instance is dead (or, with ``exclusive``, is any other process than ``me``),
    or provisioning has taken more than twice ``timeout_seconds``."""
    if instance_id is None:
        return True
    if instance_id != me and (exclusive or instance_id not in alive):
        return True
    return (now - created_at).total_seconds() > timeout_seconds * 2
