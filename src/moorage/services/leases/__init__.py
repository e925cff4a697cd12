"""Leases, written once: the pure rules, who sees a lease, and its lifecycle.

* :mod:`.rules` — state transitions, durations, extensions (pure functions);
* :mod:`.visibility` — who besides the owner sees and acts on a lease;
* :mod:`.lifecycle` — :class:`LeaseService`, the base every lease kind
  (sessions, reservations, …) subclasses;
* :mod:`.ending` — its release and failure (:class:`~.ending.LeaseEnding`).
"""

from moorage.services.leases.lifecycle import DeadlineListener, LeaseService
from moorage.services.leases.rules import (
    MIN_DURATION_SECONDS,
    LeaseColumns,
    LeaseRow,
    extend_expiry,
    requested_duration,
    transition,
)
from moorage.services.leases.visibility import Visibility

__all__ = [
    "MIN_DURATION_SECONDS",
    "DeadlineListener",
    "LeaseColumns",
    "LeaseRow",
    "LeaseService",
    "Visibility",
    "extend_expiry",
    "requested_duration",
    "transition",
]
