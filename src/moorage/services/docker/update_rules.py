"""The rules of an image update policy that need no engine: when to check (cron,
via ``croniter``), whether now is inside the maintenance window, and which tag of a
semver range is newer (npm's range syntax, ``~1.4``, ``^2``, ``>=1.2 <2``, via
``semantic_version.NpmSpec``: https://github.com/npm/node-semver#ranges)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the server starts without them
    import semantic_version

__all__ = [
    "in_window",
    "newest_in_range",
    "next_check",
    "tag_version",
    "window_opens",
]


def next_check(schedule: str, now: datetime) -> datetime:
    """The first time after ``now`` (UTC) that cron ``schedule`` fires."""
    from croniter import croniter

    return croniter(schedule, now).get_next(datetime)


def in_window(window_schedule: str | None, window_minutes: int | None, now: datetime) -> bool:
    """Whether ``now`` is inside a maintenance window: one opens each time cron
    ``window_schedule`` fires and lasts ``window_minutes``. No window: always."""
    if not window_schedule or not window_minutes:
        return True
    from croniter import croniter

    opened: datetime = croniter(window_schedule, now + timedelta(seconds=1)).get_prev(datetime)
    return now < opened + timedelta(minutes=window_minutes)


def window_opens(window_schedule: str, now: datetime) -> datetime:
    """When the next maintenance window opens after ``now``."""
    from croniter import croniter

    return croniter(window_schedule, now).get_next(datetime)


def tag_version(tag: str) -> semantic_version.Version | None:
    """The version a tag names (``1.4``, ``v1.4.2``, ``2``), or None (``latest``).
    Partial versions are completed with zeros (``1.4`` is 1.4.0)."""
    text = tag[1:] if tag[:1] in ("v", "V") else tag
    if not text[:1].isdigit():
        return None
    import semantic_version

    try:
        return semantic_version.Version.coerce(text)
    except ValueError:
        return None


def newest_in_range(tags: list[str], current_tag: str, semver_range: str) -> str | None:
    """The tag of ``tags`` with the highest version inside ``semver_range`` that is
    newer than ``current_tag``'s, or None. Pre-releases count only when the range
    names one (npm's rule)."""
    import semantic_version

    spec = semantic_version.NpmSpec(semver_range)
    current = tag_version(current_tag)
    best: tuple[semantic_version.Version, str] | None = None
    for tag in tags:
        version = tag_version(tag)
        if version is None or not spec.match(version):
            continue
        if current is not None and version <= current:
            continue
        if best is None or version > best[0]:
            best = (version, tag)
    return best[1] if best else None
