"""Roll-ups of samples on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from moorage.models.fleet import HOUR, MINUTE, RAW, Sample
from moorage.services.fleet.rollup import Rollup


async def test_rollups_are_weighted_averages(app, enrolled_node, add_samples):
    node = await enrolled_node(app)
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    # Minute 10:00 has 10 and 20; minute 10:01 has 60 (three reports).
    await add_samples(
        app,
        node,
        [(start, 10), (start + timedelta(seconds=30), 20)]
        + [(start + timedelta(minutes=1, seconds=s), 60) for s in (0, 20, 40)],
    )
    rollup = Rollup(app.context.sessionmaker, raw_retention=timedelta(days=3650))
    later = start + timedelta(hours=2)
    assert await rollup.roll(RAW, MINUTE, later) == 2
    assert await rollup.roll(RAW, MINUTE, later) == 0  # done once
    assert await rollup.roll(MINUTE, HOUR, later) == 1
    async with app.context.sessionmaker() as db:
        minutes = list(
            await db.scalars(select(Sample).where(Sample.resolution == MINUTE).order_by(Sample.at))
        )
        hour = await db.scalar(select(Sample).where(Sample.resolution == HOUR))
    assert [(m.count, m.cpu_percent) for m in minutes] == [(2, 15.0), (3, 60.0)]
    assert hour is not None and hour.count == 5 and hour.cpu_percent == pytest.approx(42.0)
