"""The agent's loop: a report every interval to ``POST /api/v1/agents/report``, a
bounded buffer while the hub is unreachable, backoff with full jitter, and the
actions the hub hands back."""

from __future__ import annotations

import collections
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from moorage.agent._common import AGENT_VERSION, DEFAULT_INTERVAL, hub_message, log
from moorage.agent.actions import execute
from moorage.agent.collector import Collector

__all__ = ["Agent"]


class Agent:
    """Pushes a report every ``interval`` seconds; keeps up to ``buffer_size`` unsent
    reports while the hub is unreachable and delivers them oldest first once it
    answers. Retries back off exponentially (up to ``max_backoff`` seconds) with
    full jitter.

    Args:
        config: from :func:`moorage.agent.enrolment.load_config`.
        allow_actions: run the actions the hub hands back (otherwise never).
        platform: ``sys.platform`` of this machine: which built-in actions exist here.
        clock, sleep, transport: injected for tests.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        interval: float = DEFAULT_INTERVAL,
        allow_actions: bool = False,
        buffer_size: int = 8640,
        max_backoff: float = 300.0,
        collector: Collector | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        platform: str = sys.platform,
    ) -> None:
        self.server = config["server"]
        self.interval = interval
        self.allow_actions = allow_actions
        self.platform = platform
        self.buffer: collections.deque[dict[str, Any]] = collections.deque(maxlen=buffer_size)
        self.max_backoff = max_backoff
        self.failures = 0
        self.retry_at = 0.0
        self.dropped = 0
        self._collector = collector or Collector()
        self._clock, self._sleep = clock, sleep
        self._http = httpx.Client(
            base_url=self.server,
            headers={
                "Authorization": f"Bearer {config['credential']}",
                "User-Agent": f"moorage-agent/{AGENT_VERSION}",
            },
            timeout=10.0,
            verify=config.get("ca_file") or True,
            transport=transport,
        )

    def tick(self) -> None:
        """Collect one report and deliver what the buffer holds, if it is time."""
        if len(self.buffer) == self.buffer.maxlen:
            self.dropped += 1
        self.buffer.append(self._collector.collect(self.allow_actions))
        if self._clock() >= self.retry_at:
            self.deliver()

    def deliver(self) -> None:
        """Send buffered reports oldest first; stop at the first failure and back off."""
        while self.buffer:
            try:
                response = self._http.post("/api/v1/agents/report", json=self.buffer[0])
            except httpx.HTTPError as exc:
                self._back_off(f"hub unreachable: {exc}")
                return
            if response.status_code >= 500 or response.status_code in (401, 403, 429):
                self._back_off(f"hub answered {response.status_code}: {hub_message(response)}")
                return
            self.buffer.popleft()
            if response.status_code >= 400:  # this report is bad: drop it, keep going
                log.error("report refused (%s): %s", response.status_code, hub_message(response))
                continue
            self.failures = 0
            self.retry_at = 0.0
            for action in response.json().get("actions", []):
                self.run_action(action)

    def _back_off(self, reason: str) -> None:
        self.failures += 1
        ceiling = min(self.max_backoff, self.interval * 2 ** min(self.failures, 16))
        delay = random.uniform(self.interval / 2, ceiling)  # full jitter, never below half a tick
        self.retry_at = self._clock() + delay
        log.warning("%s; %d report(s) buffered, retry in %.0f s", reason, len(self.buffer), delay)

    def run_action(self, action: dict[str, Any]) -> None:
        """Run an action (:func:`moorage.agent.actions.execute`; refused unless
        ``allow_actions``) and report its result to the hub; ``collect_logs``' zip is
        uploaded first (``POST /api/v1/agents/actions/{id}/file?name=…``)."""

        def upload(name: str, data: bytes) -> str | None:
            try:
                response = self._http.post(
                    f"/api/v1/agents/actions/{action['id']}/file",
                    params={"name": name},
                    content=data,
                    headers={"Content-Type": "application/zip"},
                    timeout=120.0,
                )
            except httpx.HTTPError as exc:
                return str(exc)
            return None if response.status_code < 300 else hub_message(response)

        result = execute(action, allowed=self.allow_actions, platform=self.platform, upload=upload)
        try:
            self._http.post(f"/api/v1/agents/actions/{action['id']}/result", json=result)
        except httpx.HTTPError as exc:
            log.warning("could not report action %s: %s", action.get("id"), exc)

    def run_forever(self) -> None:
        """Tick every ``interval`` seconds until interrupted."""
        next_at = self._clock()
        while True:
            self.tick()
            next_at += self.interval
            self._sleep(max(0.0, next_at - self._clock()))
