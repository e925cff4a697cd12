"""Action runs that never get a result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from moorage.models.fleet import ActionRun
from moorage.services.fleet.actions import expire_action_runs


async def test_runs_without_a_result_time_out(app, enrolled_node):
    node = await enrolled_node(app)
    sent = datetime.now(UTC) - timedelta(seconds=200)
    async with app.context.sessionmaker() as db:
        db.add_all(
            [
                ActionRun(
                    node_id=node.id,
                    action="old",
                    argv=["true"],
                    timeout_seconds=60,
                    state="sent",
                    sent_at=sent,
                    requested_by="admin",
                ),
                ActionRun(
                    node_id=node.id,
                    action="slow",
                    argv=["true"],
                    timeout_seconds=600,
                    state="sent",
                    sent_at=sent,
                    requested_by="admin",
                ),
            ]
        )
        await db.commit()
    assert await expire_action_runs(app.context.sessionmaker) == 1
    async with app.context.sessionmaker() as db:
        states = {r.action: r.state for r in await db.scalars(select(ActionRun))}
    assert states == {"old": "timed_out", "slow": "sent"}
