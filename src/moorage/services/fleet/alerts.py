"""Alerts: rules evaluated by the reconciler open and resolve them; notifications go to
the org's channels (:mod:`moorage.services.fleet.channels`); operators list them.

A metric rule fires on a node when every raw sample of the last
``duration_seconds`` is at or over ``threshold`` and those samples cover the
window (the oldest is within :data:`COVER_SLACK` of its start); with a duration
of 0 the node's latest report decides. An ``offline`` rule fires when the node
has not reported for the fleet TTL plus ``duration_seconds``. A ``critical``
rule (every org's built-in "health turned critical") fires on a node whose health
status (:func:`moorage.services.fleet.health.assess`) is ``critical``: at its
latest report with a duration of 0, else on every raw sample of the window, which
they cover as above. An alert resolves when its rule stops firing (or is
disabled or removed).

Each channel gets the changes of every rule of its org, or of its one rule
(``rule_id``), and sends at most once per ``cooldown_seconds`` (the seed's
``WEBHOOK_MIN_SECONDS``, default 300); what falls inside the cooldown is not
sent but stays in the alert history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.models.fleet import (
    METRICS,
    RAW,
    Alert,
    AlertRule,
    Node,
    NotificationChannel,
    Sample,
)
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.fleet.channels import CHANNEL_CONTEXT
from moorage.services.fleet.health import assess
from moorage.units import readable_metric

__all__ = ["COVER_SLACK", "AlertEvaluator", "list_alerts"]

log = logging.getLogger(__name__)
COVER_SLACK = timedelta(seconds=30)


class AlertEvaluator:
    """Opens and resolves alerts and sends their notifications."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keyring = keyring
        self._ttl = ttl
        self._clock = clock

    async def run(self) -> None:
        """One evaluation of every enabled rule: open, resolve, notify."""
        now = self._clock()
        async with self._sessionmaker() as db:
            rules = list(await db.scalars(select(AlertRule)))
            nodes = {n.id: n for n in await db.scalars(select(Node))}
            open_alerts = list(await db.scalars(select(Alert).where(Alert.state == "open")))
        changes: list[tuple[str, Alert]] = []
        by_rule: dict[str, dict[str, Alert]] = {}
        for alert in open_alerts:
            by_rule.setdefault(alert.rule_id, {})[alert.node_id] = alert
        live_rules = {rule.id for rule in rules if rule.enabled}
        async with write_session(self._sessionmaker) as db:
            for rule in rules:
                if not rule.enabled:
                    continue
                candidates = {
                    node_id: node
                    for node_id, node in nodes.items()
                    if node.org_id == rule.org_id
                    and (not rule.tag or rule.tag in (node.tags or []))
                }
                firing = await self._firing(db, rule, candidates, now)
                current = by_rule.get(rule.id, {})
                for node_id, value in firing.items():
                    if node_id not in current:
                        alert = Alert(
                            org_id=rule.org_id,
                            rule_id=rule.id,
                            node_id=node_id,
                            severity=rule.severity,
                            message=_message(rule, nodes[node_id].name, value),
                            value=value,
                            opened_at=now,
                        )
                        db.add(alert)
                        changes.append(("opened", alert))
                for node_id, alert in current.items():
                    if node_id not in firing:
                        changes.append(("resolved", await _resolve(db, alert, now)))
            for rule_id, current in by_rule.items():
                if rule_id not in live_rules:
                    for alert in current.values():
                        changes.append(("resolved", await _resolve(db, alert, now)))
        if changes:
            await self._notify(changes, nodes, now)

    async def _firing(
        self, db: AsyncSession, rule: AlertRule, nodes: dict[str, Node], now: datetime
    ) -> dict[str, float]:
        """``{node_id: value}`` of the nodes on which ``rule`` fires now."""
        if not nodes:
            return {}
        if rule.metric == "offline":
            limit = now - self._ttl - timedelta(seconds=rule.duration_seconds)
            return {
                node_id: (now - node.last_seen_at).total_seconds()
                for node_id, node in nodes.items()
                if node.last_seen_at is not None and node.last_seen_at < limit
            }
        if rule.metric == "critical":
            return await self._critical(db, rule, nodes, now)
        if rule.duration_seconds <= 0:
            fired = {}
            for node_id, node in nodes.items():
                value = (node.latest or {}).get(rule.metric)
                if node.status != "offline" and value is not None and value >= rule.threshold:
                    fired[node_id] = float(value)
            return fired
        start = now - timedelta(seconds=rule.duration_seconds)
        column = getattr(Sample, rule.metric)
        rows = await db.execute(
            select(Sample.node_id, func.min(column), func.min(Sample.at))
            .where(
                Sample.resolution == RAW,
                Sample.at >= start,
                Sample.node_id.in_(list(nodes)),
                column.is_not(None),
            )
            .group_by(Sample.node_id)
        )
        return {
            node_id: float(low)
            for node_id, low, oldest in rows
            if low is not None and low >= rule.threshold and oldest <= start + COVER_SLACK
        }

    async def _critical(
        self, db: AsyncSession, rule: AlertRule, nodes: dict[str, Node], now: datetime
    ) -> dict[str, float]:
        """``{node_id: health score}`` of the nodes whose health is critical (for the
        rule's whole window when it has one)."""
        # An offline node's status is "offline": its critical alert resolves.
        critical = {
            node_id: node
            for node_id, node in nodes.items()
            if node.status == "critical" and node.last_seen_at is not None
        }
        if rule.duration_seconds <= 0 or not critical:
            return {node_id: float(node.health or 0) for node_id, node in critical.items()}
        start = now - timedelta(seconds=rule.duration_seconds)
        rows = await db.scalars(
            select(Sample)
            .where(Sample.resolution == RAW, Sample.at >= start, Sample.node_id.in_(list(critical)))
            .order_by(Sample.at)
        )
        samples: dict[str, list[Sample]] = {}
        for sample in rows:
            samples.setdefault(sample.node_id, []).append(sample)
        fired = {}
        for node_id, mine in samples.items():
            assessed = [assess({m: getattr(s, m) for m in METRICS}) for s in mine]
            if mine[0].at <= start + COVER_SLACK and all(st == "critical" for _, st in assessed):
                fired[node_id] = float(max(score for score, _ in assessed))
        return fired

    async def _notify(
        self, changes: list[tuple[str, Alert]], nodes: dict[str, Node], now: datetime
    ) -> None:
        orgs = {alert.org_id for _, alert in changes}
        async with write_session(self._sessionmaker) as db:
            channels = list(
                await db.scalars(
                    select(NotificationChannel).where(
                        NotificationChannel.org_id.in_(orgs), NotificationChannel.enabled
                    )
                )
            )
            for channel in channels:
                mine = [
                    (kind, a)
                    for kind, a in changes
                    if a.org_id == channel.org_id
                    and (channel.rule_id is None or a.rule_id == channel.rule_id)
                ]
                if not mine:
                    continue
                if channel.last_sent_at is not None and now - channel.last_sent_at < timedelta(
                    seconds=channel.cooldown_seconds
                ):
                    log.info(
                        "channel %s in cooldown; %d change(s) not sent", channel.name, len(mine)
                    )
                    continue
                title, body, kind = _summary(mine, nodes)
                import apprise  # heavy (its plugins): loaded when a notification goes out

                sender = apprise.Apprise()
                sender.add(self._keyring.open(channel.url_sealed, CHANNEL_CONTEXT))
                try:
                    sent = bool(await sender.async_notify(body=body, title=title, notify_type=kind))
                except Exception as exc:  # Apprise plugins raise their own errors
                    sent, detail = False, f"{type(exc).__name__}: {exc}"
                else:
                    detail = "the service refused or did not answer"
                channel.last_sent_at = now
                channel.last_error = None if sent else detail
                if not sent:
                    log.warning("notification to %s failed: %s", channel.name, detail)


async def list_alerts(
    db: AsyncSession, user: User, state: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The org's alerts, newest first, at most ``limit`` (1–1,000); ``state`` ``open``
    or ``resolved`` filters: ``[{id, node, node_id, rule_id, severity, state, message,
    value, opened_at, resolved_at}]``. Raises Forbidden (not an operator)."""
    require_role(user, Role.OPERATOR)
    query = (
        select(Alert, Node.name)
        .join(Node, Node.id == Alert.node_id)
        .where(Alert.org_id == user.org_id)
        .order_by(Alert.opened_at.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if state:
        query = query.where(Alert.state == state)
    return [
        {
            "id": a.id,
            "node": name,
            "node_id": a.node_id,
            "rule_id": a.rule_id,
            "severity": a.severity,
            "state": a.state,
            "message": a.message,
            "value": a.value,
            "opened_at": a.opened_at.isoformat(),
            "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
        }
        for a, name in (await db.execute(query)).all()
    ]


async def _resolve(db: AsyncSession, alert: Alert, now: datetime) -> Alert:
    row = await db.get(Alert, alert.id)
    assert row is not None
    row.state, row.resolved_at = "resolved", now
    return row


def _message(rule: AlertRule, node: str, value: float) -> str:
    if rule.metric == "offline":
        return f"{node} has not reported for {value:.0f} s"
    if rule.metric == "critical":
        window = f" for {rule.duration_seconds} s" if rule.duration_seconds else ""
        return f"{node}: health turned critical{window} (score {value:.0f}/100; {rule.name})"
    window = f" for {rule.duration_seconds} s" if rule.duration_seconds else ""
    now, limit = readable_metric(rule.metric, value), readable_metric(rule.metric, rule.threshold)
    return f"{node}: {rule.metric} {now} ≥ {limit}{window} ({rule.name})"


def _summary(changes: list[tuple[str, Alert]], nodes: dict[str, Node]) -> tuple[str, str, Any]:
    opened = [a for kind, a in changes if kind == "opened"]
    resolved = [a for kind, a in changes if kind == "resolved"]
    lines = [f"[{a.severity.upper()}] {a.message}" for a in opened]
    lines += [f"[RESOLVED] {a.message}" for a in resolved]
    import apprise

    if opened:
        critical = any(a.severity == "critical" for a in opened)
        kind = apprise.NotifyType.FAILURE if critical else apprise.NotifyType.WARNING
        title = f"Moorage: {len(opened)} alert(s) opened"
        if resolved:
            title += f", {len(resolved)} resolved"
    else:
        kind, title = apprise.NotifyType.SUCCESS, f"Moorage: {len(resolved)} alert(s) resolved"
    return title, "\n".join(lines), kind
