"""Roll-ups and retention of samples.

Raw reports become 1-minute averages and 1-minute averages 1-hour averages once
their period has closed; each level is pruned after its retention (defaults: raw
24 h, minutes 7 days, hours 365 days). Averages are weighted by the number of
reports they cover, so a roll-up of roll-ups is the average of the reports.

A bucket is rolled :data:`LAG` after it closes, so reports an agent buffered
for a short outage still count; reports delivered later than that stay in the
raw samples only (the 1 h and 24 h charts) and are left out of the averages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.models.fleet import HOUR, METRICS, MINUTE, RAW, Sample

__all__ = ["LAG", "Rollup"]

LAG = {MINUTE: timedelta(minutes=2), HOUR: timedelta(minutes=5)}


def _floor(at: datetime, seconds: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=at.tzinfo)


class Rollup:
    """Runs as a reconciler job (every minute)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        raw_retention: timedelta = timedelta(hours=24),
        minute_retention: timedelta = timedelta(days=7),
        hour_retention: timedelta = timedelta(days=365),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._retention = {RAW: raw_retention, MINUTE: minute_retention, HOUR: hour_retention}
        self._clock = clock

    async def run(self) -> None:
        """Roll raw → minutes → hours and prune, as of now."""
        now = self._clock()
        await self.roll(RAW, MINUTE, now)
        await self.roll(MINUTE, HOUR, now)
        await self.prune(now)

    async def roll(self, source: int, target: int, now: datetime) -> int:
        """Average ``source`` samples into ``target`` buckets that closed before ``now``
        and are not rolled yet. Returns the number of buckets written."""
        closed = _floor(now - LAG[target], target)
        async with write_session(self._sessionmaker) as db:
            done = await db.scalar(select(func.max(Sample.at)).where(Sample.resolution == target))
            start = done + timedelta(seconds=target) if done is not None else None
            conditions = [Sample.resolution == source, Sample.at < closed]
            if start is not None:
                conditions.append(Sample.at >= start)
            rows = (
                await db.execute(
                    select(
                        Sample.node_id,
                        Sample.at,
                        Sample.count.label("weight"),
                        *[getattr(Sample, m) for m in METRICS],
                    )
                    .where(and_(*conditions))
                    .order_by(Sample.node_id, Sample.at)
                )
            ).all()
            buckets: dict[tuple[str, datetime], dict[str, float]] = {}
            for row in rows:
                key = (row.node_id, _floor(row.at, target))
                bucket = buckets.setdefault(key, {"count": 0})
                bucket["count"] += row.weight
                for metric in METRICS:
                    value = getattr(row, metric)
                    if value is not None:
                        bucket[metric] = bucket.get(metric, 0.0) + value * row.weight
                        bucket[f"n_{metric}"] = bucket.get(f"n_{metric}", 0) + row.weight
            values = [
                {
                    "node_id": node_id,
                    "resolution": target,
                    "at": at,
                    "count": int(bucket["count"]),
                    **{
                        m: (bucket[m] / bucket[f"n_{m}"] if f"n_{m}" in bucket else None)
                        for m in METRICS
                    },
                }
                for (node_id, at), bucket in buckets.items()
            ]
            if values:
                await db.execute(insert(Sample), values)
        return len(values)

    async def prune(self, now: datetime) -> None:
        """Delete each resolution's samples older than its retention."""
        async with write_session(self._sessionmaker) as db:
            for resolution, keep in self._retention.items():
                await db.execute(
                    delete(Sample).where(Sample.resolution == resolution, Sample.at < now - keep)
                )
