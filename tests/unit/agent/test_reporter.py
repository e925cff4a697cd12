"""The agent's report loop: its buffer while the hub is down, dropped bad reports, and
backoff (a fake collector, httpx's MockTransport as the hub)."""

from __future__ import annotations

import json

import httpx

from moorage.agent import Agent


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
    monkeypatch.setattr("moorage.agent.reporter.random.uniform", lambda low, high: high)
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
