"""What a workshop's times and fields mean, without a database: its state at a
moment, how long a participant's session may last, and the checks of a new
workshop's fields (each failure a 422 naming its field)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from moorage.errors import InvalidInput
from moorage.models.workshop import Workshop, WorkshopState

__all__ = [
    "MAX_CAPACITY",
    "MAX_TITLE",
    "WorkshopFields",
    "check_fields",
    "seat_duration",
    "warm_demand_of",
    "workshop_state",
]

MAX_CAPACITY = 1000
MAX_TITLE = 128
MAX_DESCRIPTION = 4000


def workshop_state(workshop: Workshop, now: datetime) -> WorkshopState:
    """``ended`` once ended (by its instructor, or ``ends_at`` passed), ``scheduled``
    before ``starts_at``, ``open`` in between."""
    if workshop.ended_at is not None or workshop.state == WorkshopState.ENDED.value:
        return WorkshopState.ENDED
    if now >= workshop.ends_at:
        return WorkshopState.ENDED
    if now < workshop.starts_at:
        return WorkshopState.SCHEDULED
    return WorkshopState.OPEN


def seat_duration(workshop: Workshop, now: datetime) -> timedelta:
    """How long a session launched for a seat at ``now`` lasts: the workshop's
    ``duration_minutes``, cut at its ``ends_at``."""
    return min(timedelta(minutes=workshop.duration_minutes), workshop.ends_at - now)


def warm_demand_of(workshop: Workshop, now: datetime, *, seats_taken: int = 0) -> int:
    """Warm workspaces this workshop asks of its template's pool at ``now``:
    ``ceil(capacity × prewarm_share)`` from ``prewarm_minutes`` before its start
    until it ends, but never more than the seats still free (``capacity`` minus
    ``seats_taken``: once everyone is in, nobody is waiting for a warm one); 0
    before and after."""
    if workshop_state(workshop, now) == WorkshopState.ENDED:
        return 0
    if now < workshop.starts_at - timedelta(minutes=workshop.prewarm_minutes):
        return 0
    share = math.ceil(workshop.capacity * workshop.prewarm_share - 1e-9)
    return max(0, min(share, workshop.capacity - seats_taken))


@dataclass(frozen=True)
class WorkshopFields:
    """A new workshop's fields once checked: times in UTC, defaults filled in."""

    title: str
    description: str
    capacity: int
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    anonymous: bool
    prewarm_minutes: int
    prewarm_share: float


def check_fields(
    *,
    title: str,
    description: str | None,
    capacity: int,
    starts_at: datetime | None,
    ends_at: datetime | None,
    duration_minutes: int | None,
    anonymous: bool,
    prewarm_minutes: int,
    prewarm_share: float,
    default_minutes: int,
    max_minutes: int,
    now: datetime,
) -> WorkshopFields:
    """Check a new workshop's fields against each other and the template's
    ``default_minutes`` / ``max_minutes``. No ``starts_at``: it starts ``now``; no
    ``ends_at``: it ends ``duration_minutes`` (else the template's default) after its
    start; no ``duration_minutes``: the whole window, at most the template's maximum.

    Raises:
        InvalidInput: naming the field (``title``, ``description``, ``capacity``,
            ``starts_at``, ``ends_at``, ``duration_minutes``, ``prewarm_minutes``,
            ``prewarm_share``).
    """
    title = " ".join(title.split())
    if not title:
        raise InvalidInput("title: give the workshop a title", field="title")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"title: at most {MAX_TITLE} characters", field="title")
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description: at most {MAX_DESCRIPTION} characters", field="description"
        )
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput(f"capacity: between 1 and {MAX_CAPACITY}", field="capacity")
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name}: give a time zone (e.g. Z)", field=name)
    if duration_minutes is not None and not 1 <= duration_minutes <= max_minutes:
        raise InvalidInput(
            f"duration_minutes: between 1 and the template's maximum of {max_minutes}",
            field="duration_minutes",
            maximum_minutes=max_minutes,
        )
    start = now if starts_at is None else starts_at
    if ends_at is None:
        ends_at = start + timedelta(minutes=duration_minutes or default_minutes)
    if ends_at <= start:
        raise InvalidInput("ends_at: must be after starts_at", field="ends_at")
    if ends_at <= now:
        raise InvalidInput("ends_at: must be in the future", field="ends_at")
    if duration_minutes is None:
        window = math.ceil((ends_at - start).total_seconds() / 60)
        duration_minutes = max(1, min(window, max_minutes))
    if not 0 <= prewarm_minutes <= 24 * 60:
        raise InvalidInput("prewarm_minutes: between 0 and 1440", field="prewarm_minutes")
    if not 0.0 <= prewarm_share <= 1.0:
        raise InvalidInput("prewarm_share: between 0 and 1", field="prewarm_share")
    return WorkshopFields(
        title=title,
        description=description,
        capacity=capacity,
        starts_at=start,
        ends_at=ends_at,
        duration_minutes=duration_minutes,
        anonymous=anonymous,
        prewarm_minutes=prewarm_minutes,
        prewarm_share=prewarm_share,
    )
