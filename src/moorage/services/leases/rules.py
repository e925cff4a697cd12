"""Lease rules, written once for every kind of lease.

Pure functions over lease rows (anything with the columns of
:class:`~moorage.models.lease.LeaseMixin`, see :class:`LeaseColumns`): state
transitions, durations and extensions. They raise :mod:`moorage.errors`
and never touch the database or a runtime.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from moorage.errors import Conflict, InvalidInput
from moorage.models.lease import TIMED_STATES, LeaseState

__all__ = [
    "MIN_DURATION_SECONDS",
    "LeaseColumns",
    "LeaseRow",
    "extend_expiry",
    "requested_duration",
    "transition",
]

MIN_DURATION_SECONDS = 10


class LeaseColumns(Protocol):
    """The columns of :class:`~moorage.models.lease.LeaseMixin` the rules read and
    write; times are timezone-aware UTC, ``state`` a :class:`LeaseState` value."""

    state: str
    starts_at: datetime
    expires_at: datetime
    released_at: datetime | None
    extensions: int
    error: str | None


class LeaseRow(LeaseColumns, Protocol):
    """A lease row: the lease columns plus its id, org and owner (ids), the server
    instance provisioning it and when it was created (UTC)."""

    instance_id: str | None

    @property
    def id(self) -> str: ...

    @property
    def org_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


_ALLOWED: dict[LeaseState, set[LeaseState]] = {
    LeaseState.PENDING: {LeaseState.PROVISIONING, LeaseState.RELEASING},
    LeaseState.PROVISIONING: {LeaseState.READY, LeaseState.RELEASING},
    LeaseState.READY: {LeaseState.RELEASING, LeaseState.STOPPED},
    LeaseState.STOPPED: {LeaseState.READY, LeaseState.RELEASING},
    LeaseState.RELEASING: {LeaseState.RELEASED},
    LeaseState.RELEASED: set(),
    LeaseState.FAILED: set(),
}


def transition(
    lease: LeaseColumns, to: LeaseState, *, now: datetime, error: str | None = None
) -> None:
    """Move ``lease`` to state ``to``.

    ``failed`` is reachable from every non-terminal state; other moves follow
    ``pending → provisioning → ready → releasing → released``, with ``ready ⇄
    stopped`` and ``stopped → releasing`` for a stopped session. Reaching a
    terminal state stamps ``released_at``.

    Raises:
        Conflict: the move is not allowed from the current state.
    """
    current = LeaseState(lease.state)
    allowed = _ALLOWED[current] | ({LeaseState.FAILED} if not current.is_terminal else set())
    if to not in allowed:
        raise Conflict(
            "cannot move from %(current)s to %(to)s",
            params={"current": current.value, "to": to.value},
            code="invalid_state",
        )
    lease.state = to.value
    if error is not None:
        lease.error = error
    if to.is_terminal:
        lease.released_at = now


def requested_duration(
    *,
    duration_minutes: int | None,
    duration_seconds: int | None,
    default_minutes: int,
    max_minutes: int,
) -> timedelta:
    """The lease duration a request asks for.

    At most one of ``duration_minutes`` and ``duration_seconds`` may be given;
    neither means ``default_minutes``. Durations are whole minutes or whole
    seconds, at least :data:`MIN_DURATION_SECONDS`, at most ``max_minutes``.

    Raises:
        InvalidInput: both given, too short, or over the maximum (the message
            and the ``field``/``maximum_minutes`` details name the limit).
    """
    if duration_minutes is not None and duration_seconds is not None:
        raise InvalidInput(
            "give duration_minutes or duration_seconds, not both", field="duration_minutes"
        )
    field = "duration_seconds" if duration_seconds is not None else "duration_minutes"
    if duration_seconds is not None:
        duration = timedelta(seconds=duration_seconds)
    elif duration_minutes is not None:
        duration = timedelta(minutes=duration_minutes)
    else:
        duration = timedelta(minutes=default_minutes)
    if duration < timedelta(seconds=MIN_DURATION_SECONDS):
        raise InvalidInput(
            "%(field)s is too short: the minimum is %(minimum)s seconds",
            params={"field": field, "minimum": MIN_DURATION_SECONDS},
            field=field,
        )
    if duration > timedelta(minutes=max_minutes):
        raise InvalidInput(
            "%(field)s is over the maximum of %(maximum)s minutes for this template",
            params={"field": field, "maximum": max_minutes},
            field=field,
            maximum_minutes=max_minutes,
        )
    return duration


def extend_expiry(
    lease: LeaseColumns, *, minutes: int, max_minutes: int, now: datetime
) -> datetime:
    """Push ``lease.expires_at`` back by ``minutes`` and count the extension.

    A lease never lives past ``starts_at + max_minutes``.

    Returns:
        The new ``expires_at``.

    Raises:
        InvalidInput: ``minutes`` is not positive, or the result would pass the
            maximum (the message says how many minutes are still allowed).
        Conflict: the lease is not ``ready`` or ``stopped`` (its clock runs in both).
    """
    if minutes < 1:
        raise InvalidInput("minutes must be at least 1", field="minutes")
    if lease.state not in TIMED_STATES:
        raise Conflict(
            "only a ready or stopped lease can be extended; this one is %(state)s",
            params={"state": lease.state},
            code="invalid_state",
        )
    limit = lease.starts_at + timedelta(minutes=max_minutes)
    new_expiry = lease.expires_at + timedelta(minutes=minutes)
    if new_expiry > limit:
        left = max(0, int((limit - lease.expires_at).total_seconds() // 60))
        raise InvalidInput(
            "extending by %(minutes)s minutes would pass the maximum of %(maximum)s minutes; "
            "at most %(left)s more minutes are allowed",
            params={"minutes": minutes, "maximum": max_minutes, "left": left},
            field="minutes",
            maximum_minutes=max_minutes,
        )
    lease.expires_at = new_expiry
    lease.extensions += 1
    return new_expiry
