"""Alert rules, alerts (open and history) and notification channels (operators)."""

from __future__ import annotations

from typing import Any

import apprise
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.v1._docker import Operator
from moorage.errors import NotFound, RuntimeUnavailable
from moorage.fleet.alerts import CHANNEL_CONTEXT, RULE_METRICS, check_apprise_url
from moorage.models.fleet import Alert, AlertRule, Node, NotificationChannel
from moorage.models.user import User
from moorage.services.audit import audit_in

router = APIRouter(tags=["alerts"])

METRIC_PATTERN = "^(" + "|".join(RULE_METRICS) + ")$"


class RuleBody(BaseModel):
    """``metric`` ≥ ``threshold`` for ``duration_seconds``; ``metric`` ``offline``: no
    report for the fleet TTL plus ``duration_seconds`` (``threshold`` unused)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    metric: str = Field(pattern=METRIC_PATTERN)
    threshold: float = Field(0.0, ge=0, le=1e15)
    duration_seconds: int = Field(0, ge=0, le=86400)
    severity: str = Field("warn", pattern="^(warn|critical)$")
    tag: str | None = Field(None, max_length=64)
    enabled: bool = True


class ChannelBody(BaseModel):
    """An Apprise URL (``json://host/path``, ``slack://…``, ``msteams://…``,
    ``mailto://…``); stored encrypted, never shown again."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=4, max_length=2000)
    cooldown_seconds: int = Field(300, ge=0, le=86400)
    enabled: bool = True


def rule_public(rule: AlertRule) -> dict[str, Any]:
    """``{id, name, metric, threshold, duration_seconds, severity, tag, enabled}``."""
    return {
        "id": rule.id,
        "name": rule.name,
        "metric": rule.metric,
        "threshold": rule.threshold,
        "duration_seconds": rule.duration_seconds,
        "severity": rule.severity,
        "tag": rule.tag,
        "enabled": rule.enabled,
    }


def channel_public(channel: NotificationChannel) -> dict[str, Any]:
    """``{id, name, cooldown_seconds, enabled, last_sent_at, last_error}`` (never the URL)."""
    return {
        "id": channel.id,
        "name": channel.name,
        "cooldown_seconds": channel.cooldown_seconds,
        "enabled": channel.enabled,
        "last_sent_at": channel.last_sent_at.isoformat() if channel.last_sent_at else None,
        "last_error": channel.last_error,
    }


async def _owned(db: Any, model: Any, org_id: str, ref: str, what: str) -> Any:
    row = await db.get(model, ref)
    if row is None or row.org_id != org_id:
        raise NotFound(f"no {what} {ref}")
    return row


@router.get("/alert-rules")
async def list_rules(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The org's alert rules, by name: ``[rule_public]``."""
    rows = await db.scalars(
        select(AlertRule).where(AlertRule.org_id == user.org_id).order_by(AlertRule.name)
    )
    return [rule_public(r) for r in rows]


@router.post("/alert-rules", status_code=201)
async def create_rule(body: RuleBody, db: WriteDbDep, user: User = Operator) -> dict[str, Any]:
    """Add a rule; 201 with ``rule_public``. 422 names a bad field."""
    rule = AlertRule(org_id=user.org_id, **body.model_dump())
    db.add(rule)
    await db.flush()
    audit_in(db, user, "alert_rule.create", "alert_rule", rule.name)
    await db.commit()
    return rule_public(rule)


@router.put("/alert-rules/{rule_id}")
async def update_rule(
    rule_id: str, body: RuleBody, db: WriteDbDep, user: User = Operator
) -> dict[str, Any]:
    """Replace a rule's fields; 404 for another org's or an unknown rule."""
    rule = await _owned(db, AlertRule, user.org_id, rule_id, "alert rule")
    for key, value in body.model_dump().items():
        setattr(rule, key, value)
    audit_in(db, user, "alert_rule.update", "alert_rule", rule.name)
    await db.commit()
    return rule_public(rule)


@router.delete("/alert-rules/{rule_id}", status_code=204)
async def remove_rule(rule_id: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Remove a rule with its alerts."""
    rule = await _owned(db, AlertRule, user.org_id, rule_id, "alert rule")
    await db.delete(rule)
    audit_in(db, user, "alert_rule.remove", "alert_rule", rule.name)
    await db.commit()
    return Response(status_code=204)


@router.get("/alerts")
async def list_alerts(
    db: DbDep, user: User = Operator, state: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Alerts, newest first; ``state`` ``open`` or ``resolved``."""
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


@router.get("/notification-channels")
async def list_channels(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The org's notification channels: ``[channel_public]``."""
    rows = await db.scalars(
        select(NotificationChannel).where(NotificationChannel.org_id == user.org_id)
    )
    return [channel_public(r) for r in rows]


@router.post("/notification-channels", status_code=201)
async def create_channel(
    body: ChannelBody, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """Add a channel; 422 when Apprise does not know the URL's scheme."""
    channel = NotificationChannel(
        org_id=user.org_id,
        name=body.name,
        url_sealed=context.keyring.seal(check_apprise_url(body.url), CHANNEL_CONTEXT),
        cooldown_seconds=body.cooldown_seconds,
        enabled=body.enabled,
    )
    db.add(channel)
    await db.flush()
    audit_in(db, user, "channel.create", "channel", channel.name)
    await db.commit()
    return channel_public(channel)


@router.delete("/notification-channels/{channel_id}", status_code=204)
async def remove_channel(channel_id: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Remove a channel; 404 when unknown."""
    channel = await _owned(db, NotificationChannel, user.org_id, channel_id, "channel")
    await db.delete(channel)
    audit_in(db, user, "channel.remove", "channel", channel.name)
    await db.commit()
    return Response(status_code=204)


@router.post("/notification-channels/{channel_id}/test", status_code=204)
async def test_channel(
    channel_id: str, db: DbDep, context: ContextDep, user: User = Operator
) -> Response:
    """Send a test notification now (ignores the cooldown). 503 when it fails."""
    channel = await _owned(db, NotificationChannel, user.org_id, channel_id, "channel")
    sender = apprise.Apprise()
    sender.add(context.keyring.open(channel.url_sealed, CHANNEL_CONTEXT))
    if not await sender.async_notify(
        title="Moorage test notification", body=f"Sent by {user.username} from the alerts page."
    ):
        raise RuntimeUnavailable(f"the notification to {channel.name} failed")
    return Response(status_code=204)
