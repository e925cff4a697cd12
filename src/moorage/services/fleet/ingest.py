"""The hub's side of agent reports: credential checks from a cache, samples queued in
memory and written in batches, each node's latest values, health and status.

A report is acknowledged once queued; the queue is written at least every
``flush_seconds`` (default 0.5 s), so a crash of the hub loses at most that much,
which the next reports make up for. One multi-row INSERT per batch and one
UPDATE per node that reported keep the database cost per report small.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import InvalidInput, Unauthenticated
from moorage.models.fleet import METRICS, RAW, ActionRun, Node, Sample
from moorage.schemas.fleet import Report
from moorage.security.tokens import parse_prefix, token_matches
from moorage.services.fleet.health import Thresholds, assess

__all__ = ["Ingest", "NodeRef"]

log = logging.getLogger(__name__)
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class NodeRef:
    """What a report needs of its node, cached by credential prefix."""

    id: str
    org_id: str
    name: str
    credential_hash: str


class Ingest:
    """Accepts agent reports for one hub process.

    Args:
        raw_retention_seconds: reports collected longer ago are refused (their raw
            samples would be pruned at once).
        flush_seconds: the longest a queued report waits before it is written.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        raw_retention_seconds: float = 86_400,
        flush_seconds: float = 0.5,
        thresholds: Thresholds = Thresholds(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._raw_retention = timedelta(seconds=raw_retention_seconds)
        self._flush_seconds = flush_seconds
        self._thresholds = thresholds
        self._clock = clock
        self._nodes: dict[str, NodeRef] = {}
        self._samples: list[dict[str, Any]] = []
        self._latest: dict[str, dict[str, Any]] = {}
        self._with_actions: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self.version = 0
        """Bumped after every write; live pages wait on :meth:`wait_changed`."""

    # -- credentials ------------------------------------------------------------------

    async def authenticate(self, authorization: str | None) -> NodeRef:
        """The node whose credential is in ``Authorization: Bearer …``.

        Raises:
            Unauthenticated: missing, malformed, unknown or revoked credential.
        """
        token = (authorization or "").removeprefix("Bearer ").strip()
        prefix = parse_prefix(token)
        if prefix is None:
            raise Unauthenticated("send the agent credential as Authorization: Bearer …")
        node = self._nodes.get(prefix)
        if node is None:
            async with self._sessionmaker() as db:
                row = await db.scalar(select(Node).where(Node.credential_prefix == prefix))
            if row is not None:
                node = NodeRef(row.id, row.org_id, row.name, row.credential_hash)
                self._nodes[prefix] = node
        if node is None or not token_matches(token, node.credential_hash):
            raise Unauthenticated("unknown or revoked agent credential", code="bad_credential")
        return node

    def forget(self, node_id: str) -> None:
        """Drop a removed node's credential from the cache."""
        self._nodes = {k: v for k, v in self._nodes.items() if v.id != node_id}

    def actions_queued(self, node_id: str) -> None:
        """Hand this node its queued actions with its next report."""
        self._with_actions.add(node_id)

    # -- reports ----------------------------------------------------------------------

    async def accept(self, node: NodeRef, report: Report) -> list[dict[str, Any]]:
        """Queue one report; returns the actions to hand to the agent
        (``[{id, action, argv, timeout_seconds, builtin?, params?}]``: built-ins of
        the agent's catalog carry ``builtin: true`` and an empty ``argv``, which an
        agent without the catalog refuses).

        Raises:
            InvalidInput: ``collected_at`` in the future or older than the raw retention.
        """
        now = self._clock()
        at = report.collected_at
        if at.tzinfo is None:
            raise InvalidInput("collected_at needs a UTC offset (RFC 3339)", field="collected_at")
        if at > now + FUTURE_SLACK:
            raise InvalidInput(
                f"collected_at {at.isoformat()} is in the future (hub time {now.isoformat()})",
                field="collected_at",
            )
        if at < now - self._raw_retention:
            raise InvalidInput(
                f"collected_at {at.isoformat()} is older than the raw retention "
                f"({self._raw_retention.total_seconds() / 3600:g} h)",
                field="collected_at",
            )
        metrics = report.metrics.model_dump()
        disk = max((d.percent for d in report.disks), default=None)
        values = {key: metrics.get(key) for key in METRICS if key != "disk_percent"}
        values["disk_percent"] = disk
        self._samples.append(
            {"node_id": node.id, "resolution": RAW, "at": at, "count": 1, **values}
        )
        previous = self._latest.get(node.id)
        if previous is None or previous["at"] <= at:
            self._latest[node.id] = {
                "at": at,
                "seen": now,
                "report": report,
                "values": values,
            }
        else:
            previous["seen"] = now
        if node.id in self._with_actions:
            return await self._hand_actions(node.id, report.allow_actions)
        return []

    async def _hand_actions(self, node_id: str, allowed: bool) -> list[dict[str, Any]]:
        self._with_actions.discard(node_id)
        now = self._clock()
        async with write_session(self._sessionmaker) as db:
            runs = list(
                await db.scalars(
                    select(ActionRun)
                    .where(ActionRun.node_id == node_id, ActionRun.state == "queued")
                    .order_by(ActionRun.created_at)
                )
            )
            for run in runs:
                if allowed:
                    run.state, run.sent_at = "sent", now
                else:
                    run.state, run.finished_at = "refused", now
                    run.output = "the agent runs without --allow-actions"
        if not allowed:
            return []
        return [
            {
                "id": r.id,
                "action": r.action,
                "argv": r.argv,
                "timeout_seconds": r.timeout_seconds,
                **({"builtin": True, "params": r.params or {}} if r.builtin else {}),
            }
            for r in runs
        ]

    # -- writing ----------------------------------------------------------------------

    async def flush(self) -> int:
        """Write what is queued; returns the number of samples written."""
        samples, self._samples = self._samples, []
        latest, self._latest = self._latest, {}
        if not samples and not latest:
            return 0
        rows = []
        for node_id, item in latest.items():
            report: Report = item["report"]
            score, status = assess(item["values"], thresholds=self._thresholds)
            rows.append(
                {
                    "b_id": node_id,
                    "last_seen_at": item["seen"],
                    "status": status,
                    "health": score,
                    "os": report.os,
                    "agent_version": report.agent_version,
                    "allow_actions": report.allow_actions,
                    "latest": {
                        **item["values"],
                        "collected_at": report.collected_at.isoformat(),
                        "hostname": report.hostname,
                        "uptime_seconds": report.uptime_seconds,
                        "containers_total": report.metrics.containers_total,
                        "disks": [d.model_dump() for d in report.disks],
                    },
                }
            )
        async with write_session(self._sessionmaker) as db:
            if samples:
                await db.execute(insert(Sample), samples)
            if rows:
                statement = (
                    update(Node)
                    .where(Node.id == bindparam("b_id"))
                    .values(
                        last_seen_at=bindparam("last_seen_at"),
                        status=bindparam("status"),
                        health=bindparam("health"),
                        os=bindparam("os"),
                        agent_version=bindparam("agent_version"),
                        allow_actions=bindparam("allow_actions"),
                        latest=bindparam("latest"),
                    )
                )
                await (await db.connection()).execute(statement, rows)
            queued = await db.scalars(
                select(ActionRun.node_id).where(ActionRun.state == "queued").distinct()
            )
            self._with_actions |= set(queued)
        await self.bump()
        return len(samples)

    async def bump(self) -> None:
        """Wake the live pages."""
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    async def wait_changed(self, version: int, within: float) -> int:
        """Wait until :attr:`version` passes ``version`` or ``within`` seconds pass."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.version > version), within
                )
            except TimeoutError:
                pass
            return self.version

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception:  # a failed batch is logged; the next one goes on
                log.exception("writing agent reports failed")

    def start(self) -> None:
        """Start the background writer (every ``flush_seconds``)."""
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="fleet-ingest")

    async def stop(self) -> None:
        """Stop the writer and write what is still queued."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
