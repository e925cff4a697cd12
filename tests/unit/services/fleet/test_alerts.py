"""Alert windows on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from moorage.models.fleet import Alert, AlertRule
from moorage.services.fleet.alerts import AlertEvaluator


async def test_metric_rule_fires_only_when_the_window_is_covered(app, enrolled_node, add_samples):
    node = await enrolled_node(app)
    now = datetime.now(UTC)
    async with app.context.sessionmaker() as db:
        db.add(
            AlertRule(
                org_id=node.org_id,
                name="hot",
                metric="cpu_percent",
                threshold=80,
                duration_seconds=60,
                severity="critical",
            )
        )
        await db.commit()
    evaluator = AlertEvaluator(
        app.context.sessionmaker,
        app.context.keyring,
        ttl=timedelta(seconds=60),
        clock=lambda: now,
    )
    # Hot, but only for the last 20 s: not yet.
    await add_samples(app, node, [(now - timedelta(seconds=s), 95) for s in (20, 10, 0)])
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        assert not list(await db.scalars(select(Alert)))
    # Hot over the whole minute: it fires once.
    await add_samples(app, node, [(now - timedelta(seconds=s), 90) for s in (60, 50, 40, 30)])
    await evaluator.run()
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        alerts = list(await db.scalars(select(Alert)))
    assert [(a.state, a.severity) for a in alerts] == [("open", "critical")]
    # One cool sample in the window: it resolves.
    await add_samples(app, node, [(now - timedelta(seconds=5), 40)])
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        assert [a.state for a in await db.scalars(select(Alert))] == ["resolved"]
