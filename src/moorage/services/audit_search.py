"""The audit log read back (admins): filters, pages, and a CSV export.

The API (``GET /api/v1/audit``, also ``?format=csv``) and the audit page use the
same :class:`AuditFilter`, so a filtered page and its export hold the same events.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import InvalidInput
from moorage.models.audit import AuditEvent
from moorage.models.user import Role, User
from moorage.security.rbac import require_role

__all__ = [
    "CSV_COLUMNS",
    "CSV_MAX_ROWS",
    "AuditFilter",
    "csv_rows",
    "known_values",
    "parse_time",
    "search",
]

CSV_MAX_ROWS = 100_000
"""The most events one export holds (the newest ones matching)."""
CSV_COLUMNS = (
    "at",
    "username",
    "action",
    "object_type",
    "object_id",
    "environment",
    "source",
    "detail",
)
# Cells starting with these are read as formulas by spreadsheets (OWASP "CSV
# injection"); usernames tried in failed sign-ins and details are anyone's text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    """Which events to show; every field set narrows the result.

    Attributes:
        username: who acted (exact).
        action: an action or its start (``session.`` matches ``session.launch``).
        object_type: ``session``, ``user``, ``container`` … (exact).
        object_id: the object's id or name (exact).
        since: events at or after this time (UTC, timezone-aware).
        until: events at or before this time (UTC, timezone-aware).
    """

    username: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(
        cls,
        *,
        username: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
        tz: str | None = None,
    ) -> AuditFilter:
        """A filter from query parameters as typed (blank means unset); ``since`` and
        ``until`` as :func:`parse_time` reads them (a bare date ``until`` means the end
        of that day).

        Raises:
            InvalidInput: a time or time zone that cannot be read (field ``from``,
                ``to`` or ``tz``), or ``from`` after ``to``.
        """
        start = parse_time(since, field="from", tz=tz)
        end = parse_time(until, field="to", tz=tz, end_of_day=True)
        if start and end and start > end:
            raise InvalidInput("from must be before to", field="from")
        return cls(
            username=_text(username, "username"),
            action=_text(action, "action"),
            object_type=_text(object_type, "object_type"),
            object_id=_text(object_id, "object_id"),
            since=start,
            until=end,
        )

    def apply(self, query: Select[AuditEvent]) -> Select[AuditEvent]:
        """``query`` narrowed to the events this filter keeps."""
        if self.username:
            query = query.where(AuditEvent.username == self.username)
        if self.action:
            query = query.where(AuditEvent.action.startswith(self.action, autoescape=True))
        if self.object_type:
            query = query.where(AuditEvent.object_type == self.object_type)
        if self.object_id:
            query = query.where(AuditEvent.object_id == self.object_id)
        if self.since:
            query = query.where(AuditEvent.at >= self.since)
        if self.until:
            query = query.where(AuditEvent.at <= self.until)
        return query


def _text(value: str | None, field: str) -> str | None:
    """A text filter stripped, None when blank. Refuses NUL (PostgreSQL rejects it in
    text, which would otherwise end as a server error)."""
    value = (value or "").strip()
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain a NUL character", field=field)
    return value or None


def parse_time(
    value: str | None, *, field: str, tz: str | None = None, end_of_day: bool = False
) -> datetime | None:
    """A time typed in a filter, as UTC: ISO 8601 (``2025-03-01``, ``2025-03-01T14:05``,
    ``2025-03-01T14:05:00+01:00``, ``…Z``). Without an offset it is read in the IANA
    zone ``tz`` (the browser's, e.g. ``Europe/Paris``), or UTC without one. A bare
    date is its first instant, or its last with ``end_of_day``. None for blank.

    Raises:
        InvalidInput: not such a time (names ``field``), or an unknown ``tz``.
    """
    text = _text(value, field)
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError as exc:
        raise InvalidInput(
            f"{field} must be a date or time like 2025-03-01 or 2025-03-01T14:05, not {value!r}",
            field=field,
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(tz))
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 moved past the calendar's ends
        raise InvalidInput(f"{field} is out of range: {value!r}", field=field) from exc


def _zone(name: str | None) -> tzinfo:
    if not name or not name.strip():
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name[:64]!r}", field="tz") from exc


async def search(
    db: AsyncSession, admin: User, where: AuditFilter, *, offset: int = 0, limit: int = 100
) -> list[AuditEvent]:
    """The events of ``admin``'s org that ``where`` keeps, newest first, skipping
    ``offset`` and at most ``limit`` (both clamped to sensible ranges).

    Raises:
        Forbidden: ``admin`` is not an admin.
    """
    require_role(admin, Role.ADMIN)
    query = where.apply(select(AuditEvent).where(AuditEvent.org_id == admin.org_id))
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    query = query.offset(max(0, offset)).limit(max(1, min(limit, CSV_MAX_ROWS)))
    return list(await db.scalars(query))


async def known_values(db: AsyncSession, admin: User) -> tuple[list[str], list[str]]:
    """``(actions, object types)`` recorded in ``admin``'s org, sorted: the choices a
    filter form offers.

    Raises:
        Forbidden: ``admin`` is not an admin.
    """
    require_role(admin, Role.ADMIN)
    in_org = AuditEvent.org_id == admin.org_id
    actions = await db.scalars(select(AuditEvent.action).where(in_org).distinct())
    types = await db.scalars(select(AuditEvent.object_type).where(in_org).distinct())
    return sorted(actions), sorted(types)


def csv_rows(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The events as CSV text (RFC 4180, CRLF line ends), a header line first, one
    string per line: columns :data:`CSV_COLUMNS`, ``at`` in ISO 8601 UTC. A cell
    that a spreadsheet would run as a formula gets a leading ``'``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for event in events:
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
        yield line(
            _cell(value)
            for value in (
                at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                event.username,
                event.action,
                event.object_type,
                event.object_id,
                event.environment or "",
                event.source or "",
                event.detail or "",
            )
        )


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
