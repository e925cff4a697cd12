"""Fleet units: health, the agent's buffer and backoff (fake HTTP transport), roll-ups
and alert windows on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from moorage.fleet.agent import Agent
from moorage.fleet.alerts import AlertEvaluator
from moorage.fleet.health import Thresholds, assess
from moorage.fleet.rollup import Rollup
from moorage.models.fleet import HOUR, MINUTE, RAW, Alert, AlertRule, Node, Sample


@pytest.mark.parametrize(
    ("metrics", "online", "expected"),
    [
        ({}, True, (100, "ok")),
        ({"cpu_percent": 70}, True, (90, "ok")),
        ({"cpu_percent": 85}, True, (70, "warn")),
        ({"cpu_percent": 100}, True, (40, "critical")),
        ({"memory_percent": 95}, True, (70, "warn")),
        ({"disk_percent": 92}, True, (70, "warn")),
        ({"disk_percent": 96}, True, (40, "critical")),
        ({"cpu_percent": 10}, False, (0, "offline")),
    ],
)
def test_health(metrics, online, expected):
    assert assess(metrics, online=online) == expected


def test_health_thresholds_are_configurable():
    assert assess({"cpu_percent": 85}, thresholds=Thresholds(cpu_warn=90))[1] == "ok"


class FakeCollector:
    def __init__(self) -> None:
        self.n = 0

    def collect(self, allow_actions: bool = False) -> dict:
        self.n += 1
        return {"seq": self.n}


class Hub:
    """A fake hub: answers ``status`` while ``down`` is false; records bodies."""

    def __init__(self) -> None:
        self.down = False
        self.status = 200
        self.received: list[int] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("refused")
        import json

        self.received.append(json.loads(request.content)["seq"])
        return httpx.Response(self.status, json={"actions": []})


def make_agent(hub: Hub, now: list[float], **kwargs) -> Agent:
    return Agent(
        {"server": "http://hub", "credential": "mrg_x"},
        interval=10,
        collector=FakeCollector(),  # type: ignore[arg-type]
        clock=lambda: now[0],
        transport=httpx.MockTransport(hub.handler),
        **kwargs,
    )


def test_agent_buffers_while_the_hub_is_down_and_delivers_in_order():
    hub, now = Hub(), [0.0]
    agent = make_agent(hub, now, max_backoff=60)
    agent.tick()
    hub.down = True
    for _ in range(5):
        now[0] += 10
        agent.tick()
    assert hub.received == [1] and len(agent.buffer) >= 1
    assert 0 < agent.retry_at - now[0] <= 60
    hub.down = False
    now[0] = agent.retry_at
    agent.tick()
    assert hub.received == [1, 2, 3, 4, 5, 6, 7] and not agent.buffer


def test_agent_buffer_is_bounded_and_bad_reports_are_dropped():
    hub, now = Hub(), [0.0]
    agent = make_agent(hub, now, buffer_size=3)
    hub.down = True
    for _ in range(6):
        agent.tick()
        now[0] = agent.retry_at
    assert [r["seq"] for r in agent.buffer] == [4, 5, 6] and agent.dropped == 3
    hub.down, hub.status = False, 422
    agent.tick()
    # The new report pushed out the oldest; refused reports are not retried.
    assert hub.received == [5, 6, 7] and not agent.buffer and agent.dropped == 4


def test_backoff_grows_with_failures_and_is_capped(monkeypatch):
    # Take the top of each jitter range, so the ceiling itself is visible.
    monkeypatch.setattr("moorage.fleet.agent.random.uniform", lambda low, high: high)
    hub, now = Hub(), [0.0]
    hub.down = True
    agent = make_agent(hub, now, max_backoff=70)
    agent.tick()
    delays = [agent.retry_at - now[0]]
    for _ in range(4):
        agent.deliver()
        delays.append(agent.retry_at - now[0])
    # interval 10 s · 2^failures, capped at 70 s
    assert delays == [20, 40, 70, 70, 70] and agent.failures == 5


async def _node(app) -> Node:
    token = (await app.client.post("/api/v1/enrollment-tokens", json={})).json()["token"]
    answer = await app.client.post(
        "/api/v1/agents/enroll", json={"token": token, "hostname": "unit"}
    )
    assert answer.status_code == 201, answer.text
    async with app.context.sessionmaker() as db:
        return await db.get(Node, answer.json()["node_id"])


async def _samples(app, node: Node, rows: list[tuple[datetime, float]]) -> None:
    async with app.context.sessionmaker() as db:
        db.add_all(
            [
                Sample(node_id=node.id, resolution=RAW, at=at, count=1, cpu_percent=cpu)
                for at, cpu in rows
            ]
        )
        await db.commit()


async def test_rollups_are_weighted_averages(app):
    node = await _node(app)
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    # Minute 10:00 has 10 and 20; minute 10:01 has 60 (three reports).
    await _samples(
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


async def test_metric_rule_fires_only_when_the_window_is_covered(app):
    node = await _node(app)
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
    await _samples(app, node, [(now - timedelta(seconds=s), 95) for s in (20, 10, 0)])
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        assert not list(await db.scalars(select(Alert)))
    # Hot over the whole minute: it fires once.
    await _samples(app, node, [(now - timedelta(seconds=s), 90) for s in (60, 50, 40, 30)])
    await evaluator.run()
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        alerts = list(await db.scalars(select(Alert)))
    assert [(a.state, a.severity) for a in alerts] == [("open", "critical")]
    # One cool sample in the window: it resolves.
    await _samples(app, node, [(now - timedelta(seconds=5), 40)])
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        assert [a.state for a in await db.scalars(select(Alert))] == ["resolved"]


async def test_reports_are_written_in_a_batch_with_the_latest_values(app):
    token = (await app.client.post("/api/v1/enrollment-tokens", json={"max_uses": 2})).json()
    credentials = []
    for name in ("a", "b"):
        answer = await app.client.post(
            "/api/v1/agents/enroll", json={"token": token["token"], "hostname": name}
        )
        credentials.append(answer.json()["credential"])
    now = datetime.now(UTC)
    for credential in credentials:
        for seconds, cpu in ((20, 10.0), (10, 99.0)):
            report = {
                "agent_version": "1",
                "collected_at": (now - timedelta(seconds=seconds)).isoformat(),
                "hostname": "x",
                "metrics": {"cpu_percent": cpu, "load1": 0.5, "memory_percent": 30},
                "disks": [{"mount": "/", "percent": 40, "used_bytes": 4, "total_bytes": 10}],
            }
            answer = await app.client.post(
                "/api/v1/agents/report",
                json=report,
                headers={"Authorization": f"Bearer {credential}"},
            )
            assert answer.status_code == 200, answer.text
    await app.context.ingest.flush()  # the background writer may have written some already
    nodes = (await app.client.get("/api/v1/nodes", params={"sort": "name"})).json()
    assert [(n["name"], n["status"], n["health"]) for n in nodes] == [
        ("a", "critical", 40),
        ("b", "critical", 40),
    ]
    assert nodes[0]["metrics"]["cpu_percent"] == 99.0 and nodes[0]["metrics"]["disk_percent"] == 40


async def test_runs_without_a_result_time_out(app):
    from moorage.fleet.rollup import expire_action_runs
    from moorage.models.fleet import ActionRun

    node = await _node(app)
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
