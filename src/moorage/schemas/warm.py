"""A template's ``warm`` field: how many warm workspaces to keep started ahead, and when.

The field is either a number (that many, always) or a schedule object, the
structured form of "30 between 08:45 and 12:00 on weekdays"::

    {"count": 30, "from": "08:45", "to": "12:00", "days": "mon-fri",
     "timezone": "Europe/Paris", "outside": 2}

* ``count``: warm workspaces inside the window (0 to :data:`MAX_WARM`);
* ``from`` / ``to``: the window, ``HH:MM`` (24 h) local time, ``from`` included,
  ``to`` excluded; ``to`` before ``from`` runs past midnight (the day named is
  the day the window opens);
* ``days``: comma-separated days or ranges of ``mon tue wed thu fri sat sun``
  (``mon-fri``, ``sat,sun``, ``mon,wed-fri``) or ``daily``; default ``daily``;
* ``timezone``: an IANA zone name; default ``UTC``;
* ``outside``: warm workspaces outside the window; default 0.

The database keeps the object form (a number ``n`` as ``{"count": n}``); the
API gives a number back for a plain number.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator, model_validator

from moorage.schemas._input import InputModel

__all__ = ["MAX_WARM", "WarmSchedule", "parse_days", "public_warm", "stored_warm", "warm_target"]

MAX_WARM = 500
"""The most warm workspaces one template may keep (each is a running container)."""

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def parse_days(text: str) -> frozenset[int]:
    """The weekdays (Monday = 0) named by ``text``: ``daily``, or days and ranges
    separated by commas (``mon-fri``, ``sat,sun``; a range may wrap: ``fri-mon``).

    Raises:
        ValueError: an unknown day name, naming it.
    """
    text = text.strip().lower()
    if text in ("daily", "*", ""):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            start = DAY_NAMES.index(first.strip())
            end = DAY_NAMES.index(last.strip()) if last else start
        except ValueError:
            raise ValueError(
                f"days: {part.strip()!r} is not a day or range of {', '.join(DAY_NAMES)} "
                "(e.g. mon-fri, or daily)"
            ) from None
        day = start
        days.add(day)
        while day != end:
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days)


class WarmSchedule(InputModel):
    """``count`` warm workspaces from ``from`` to ``to`` on ``days`` (in ``timezone``),
    ``outside`` at other times. See the module docstring."""

    model_config = ConfigDict(populate_by_name=True)

    count: int = Field(ge=0, le=MAX_WARM, description="Warm workspaces inside the window.")
    from_: str | None = Field(
        None, alias="from", pattern=_TIME, description="Start of the window, HH:MM."
    )
    to: str | None = Field(None, pattern=_TIME, description="End of the window (excluded), HH:MM.")
    days: str = Field("daily", max_length=64, description="e.g. `mon-fri`, `sat,sun`, `daily`.")
    timezone: str = Field("UTC", max_length=64, description="IANA time zone of the window.")
    outside: int = Field(0, ge=0, le=MAX_WARM, description="Warm workspaces outside the window.")

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: str) -> str:
        parse_days(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: {value!r} is not an IANA time zone name") from None
        return value

    @model_validator(mode="after")
    def _window_complete(self) -> WarmSchedule:
        if (self.from_ is None) != (self.to is None):
            raise ValueError("warm: give both from and to, or neither")
        if self.from_ is not None and self.from_ == self.to:
            raise ValueError("warm: from and to must differ")
        return self

    def stored(self) -> dict[str, Any]:
        """The form kept in ``templates.warm``: ``{"count": n}`` without a window."""
        if self.from_ is None:
            return {"count": self.count}
        return self.model_dump(by_alias=True)

    def target(self, now: datetime) -> int:
        """How many warm workspaces to keep at ``now`` (timezone-aware)."""
        if self.from_ is None or self.to is None:
            return self.count
        local = now.astimezone(ZoneInfo(self.timezone))
        start, end = time.fromisoformat(self.from_), time.fromisoformat(self.to)
        days = parse_days(self.days)
        clock = local.time().replace(tzinfo=None)
        if start < end:
            inside = start <= clock < end and local.weekday() in days
        elif clock >= start:  # the window runs past midnight and opened today
            inside = local.weekday() in days
        else:  # … or opened yesterday
            inside = clock < end and (local - timedelta(days=1)).weekday() in days
        return self.count if inside else self.outside


def stored_warm(value: int | WarmSchedule) -> dict[str, Any] | None:
    """The ``templates.warm`` value of an API ``warm`` field (None for 0)."""
    if isinstance(value, int):
        return {"count": value} if value else None
    return value.stored() if (value.count or value.outside) else None


def public_warm(stored: dict[str, Any] | None) -> int | dict[str, Any]:
    """The API form of a stored ``warm``: a number, or the schedule object."""
    if not stored:
        return 0
    if set(stored) == {"count"}:
        return int(stored["count"])
    return WarmSchedule.model_validate(stored).model_dump(by_alias=True)


def warm_target(stored: dict[str, Any] | None, now: datetime) -> int:
    """How many warm workspaces a template whose ``warm`` is ``stored`` keeps at ``now``.
    A stored value that no longer validates counts as 0."""
    if not stored:
        return 0
    try:
        return WarmSchedule.model_validate(stored).target(now)
    except ValueError:
        return 0
