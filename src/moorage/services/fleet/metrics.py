"""A node's metric history: which stored resolution answers a time range, averages per
step in uPlot's columnar layout, and the CSV / JSONL exports of it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.config import Settings
from moorage.db.base import utcnow
from moorage.errors import InvalidInput
from moorage.models.fleet import HOUR, METRICS, MINUTE, RAW, Node, Sample
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.fleet.nodes import find_node

__all__ = [
    "EXPORT_FORMATS",
    "MAX_POINTS",
    "export_text",
    "history",
    "node_history",
    "parse_time",
    "pick_resolution",
    "recent_samples",
    "retention_of",
]

MAX_POINTS = 5000
EXPORT_FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def retention_of(settings: Settings) -> dict[int, timedelta]:
    """How long each resolution (:data:`RAW`, :data:`MINUTE`, :data:`HOUR`) is kept."""
    return {
        RAW: timedelta(hours=settings.fleet_raw_retention_hours),
        MINUTE: timedelta(days=settings.fleet_minute_retention_days),
        HOUR: timedelta(days=settings.fleet_hour_retention_days),
    }


def parse_time(value: str | None, default: datetime, field: str) -> datetime:
    """``value`` (RFC 3339, UTC when it has no offset, or Unix seconds) as a UTC-aware
    time; ``default`` when absent. Raises InvalidInput naming ``field``."""
    if value is None:
        return default
    try:
        if value.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{field} is not an RFC 3339 time or Unix seconds", field=field) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def node_history(
    db: AsyncSession,
    user: User,
    ref: str,
    *,
    since: str | None,
    until: str | None,
    step: int | None,
    retention: dict[int, timedelta],
) -> tuple[Node, dict[str, Any]]:
    """The node ``ref`` and its :func:`history` between ``since`` and ``until`` (see
    :func:`parse_time`; default the last hour).

    Raises:
        Forbidden: not an operator.
        NotFound: no node ``ref``.
        InvalidInput: a bad time, range or step (the field is named).
    """
    require_role(user, Role.OPERATOR)
    now = datetime.now(UTC)
    node = await find_node(db, user.org_id, ref)
    data = await history(
        db,
        node,
        since=parse_time(since, now - timedelta(hours=1), "since"),
        until=parse_time(until, now, "until"),
        step=step,
        retention=retention,
    )
    return node, data


def export_text(data: dict[str, Any], format: str) -> str:
    """:func:`history`'s answer as one row per point (``at`` RFC 3339, then each
    metric): CSV with a header, or JSONL (``format`` ``csv`` or ``jsonl``)."""
    metrics = [k for k in data if isinstance(data[k], list) and k != "at"]
    rows = [
        {"at": datetime.fromtimestamp(t, UTC).isoformat(), **{m: data[m][i] for m in metrics}}
        for i, t in enumerate(data["at"])
    ]
    if format == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["at", *metrics])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def pick_resolution(
    since: datetime, step: int, now: datetime, retention: dict[int, timedelta]
) -> int:
    """The coarsest stored resolution no coarser than ``step`` that still reaches back
    to ``since`` (falling back to the finest that does)."""
    for resolution in (HOUR, MINUTE, RAW):
        if resolution <= step and now - retention[resolution] <= since:
            return resolution
    for resolution in (RAW, MINUTE, HOUR):
        if now - retention[resolution] <= since:
            return resolution
    return HOUR


async def history(
    db: AsyncSession,
    node: Node,
    *,
    since: datetime,
    until: datetime,
    step: int | None,
    retention: dict[int, timedelta],
) -> dict[str, Any]:
    """Averages per ``step`` seconds between ``since`` and ``until``, columnar (uPlot's
    data layout): ``{"since", "until", "step", "resolution", "at": [unix seconds],
    "<metric>": [value or null, …]}``. ``step`` defaults to about 300 points.

    Raises:
        InvalidInput: ``since`` not before ``until``, or more than 5,000 points.
    """
    if since >= until:
        raise InvalidInput("since must be before until", field="since")
    span = (until - since).total_seconds()
    step = step or max(10, int(span // 300))
    if step < 1 or span / step > MAX_POINTS:
        raise InvalidInput(
            f"{span / step:.0f} points asked; at most {MAX_POINTS} (raise step)", field="step"
        )
    resolution = pick_resolution(since, step, utcnow(), retention)
    rows = await db.execute(
        select(Sample.at, Sample.count.label("weight"), *[getattr(Sample, m) for m in METRICS])
        .where(
            Sample.node_id == node.id,
            Sample.resolution == resolution,
            Sample.at >= since,
            Sample.at < until,
        )
        .order_by(Sample.at)
    )
    buckets: dict[int, dict[str, list[float]]] = {}
    for row in rows:
        start = int(row.at.timestamp()) // step * step
        bucket = buckets.setdefault(start, {})
        for metric in METRICS:
            value = getattr(row, metric)
            if value is not None:
                bucket.setdefault(metric, []).append(value)
    times = sorted(buckets)
    result: dict[str, Any] = {
        "node": node.name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "step": step,
        "resolution": resolution,
        "at": times,
    }
    for metric in METRICS:
        result[metric] = [
            round(sum(v) / len(v), 3) if (v := buckets[t].get(metric)) else None for t in times
        ]
    return result


async def recent_samples(db: AsyncSession, node: Node, limit: int) -> list[Sample]:
    """The node's last ``limit`` raw samples (one per report), oldest first."""
    rows = await db.scalars(
        select(Sample)
        .where(Sample.node_id == node.id, Sample.resolution == RAW)
        .order_by(Sample.at.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))
