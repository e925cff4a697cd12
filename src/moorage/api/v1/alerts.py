"""Alert rules, alerts (open and history) and notification channels (operators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.v1._docker import Operator
from moorage.models.user import Role, User
from moorage.schemas.alert import ChannelBody, RuleBody, RuleSwitch
from moorage.security.access import Allow
from moorage.services.fleet import alert_rules, alerts, channels

router = APIRouter(tags=["alerts"])


@router.get("/alert-rules", dependencies=[Allow(Role.OPERATOR)])
async def list_rules(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The org's alert rules, by name: ``[rule_public]``."""
    return await alert_rules.list_rules(db, user)


@router.post("/alert-rules", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_rule(body: RuleBody, db: WriteDbDep, user: User = Operator) -> dict[str, Any]:
    """Add a rule; 201 with ``rule_public``. 422 names a bad field."""
    return await alert_rules.create_rule(db, user, body)


@router.put("/alert-rules/{rule_id}", dependencies=[Allow(Role.OPERATOR)])
async def update_rule(
    rule_id: str, body: RuleBody, db: WriteDbDep, user: User = Operator
) -> dict[str, Any]:
    """Replace a rule's fields; 404 for another org's or an unknown rule; 422 when a
    built-in rule's metric would change."""
    return await alert_rules.update_rule(db, user, rule_id, body)


@router.patch("/alert-rules/{rule_id}", dependencies=[Allow(Role.OPERATOR)])
async def switch_rule(
    rule_id: str, body: RuleSwitch, db: WriteDbDep, user: User = Operator
) -> dict[str, Any]:
    """Enable or disable a rule (``{"enabled": bool}``), built-in ones included;
    answers ``rule_public``; 404 when unknown."""
    return await alert_rules.set_rule_enabled(db, user, rule_id, body)


@router.delete("/alert-rules/{rule_id}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def remove_rule(rule_id: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Remove a rule with its alerts; 404 when unknown; 409 for a built-in rule
    (disable it instead)."""
    await alert_rules.remove_rule(db, user, rule_id)
    return Response(status_code=204)


@router.get("/alerts", dependencies=[Allow(Role.OPERATOR)])
async def list_alerts(
    db: DbDep, user: User = Operator, state: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Alerts, newest first (at most ``limit``, up to 1,000); ``state`` ``open`` or
    ``resolved``."""
    return await alerts.list_alerts(db, user, state, limit)


@router.get("/notification-channels", dependencies=[Allow(Role.OPERATOR)])
async def list_channels(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The org's notification channels: ``[channel_public]`` (never the URL)."""
    return await channels.list_channels(db, user)


@router.post("/notification-channels", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_channel(
    body: ChannelBody, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """Add a channel; 422 when Apprise does not know the URL's scheme or ``rule_id`` is
    not one of the org's rules."""
    return await channels.create_channel(db, context.keyring, user, body)


@router.delete(
    "/notification-channels/{channel_id}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def remove_channel(channel_id: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Remove a channel; 404 when unknown; 409 for the channel of
    ``MOORAGE_WEBHOOK_URL``."""
    await channels.remove_channel(db, user, channel_id)
    return Response(status_code=204)


@router.post(
    "/notification-channels/{channel_id}/test", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def test_channel(
    channel_id: str, db: DbDep, context: ContextDep, user: User = Operator
) -> Response:
    """Send a test notification now (ignores the cooldown). 503 when it fails; 404
    when unknown."""
    await channels.send_test(db, context.keyring, user, channel_id)
    return Response(status_code=204)
