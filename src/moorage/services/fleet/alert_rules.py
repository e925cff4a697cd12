"""Alert rules: what the evaluator (:mod:`moorage.services.fleet.alerts`) watches.
Changes are audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import NotFound
from moorage.models.fleet import AlertRule
from moorage.models.user import Role, User
from moorage.schemas.alert import RuleBody
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in

__all__ = ["create_rule", "list_rules", "remove_rule", "rule_public", "update_rule"]


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


async def _owned(db: AsyncSession, org_id: str, rule_id: str) -> AlertRule:
    rule = await db.get(AlertRule, rule_id)
    if rule is None or rule.org_id != org_id:
        raise NotFound(f"no alert rule {rule_id}")
    return rule


async def list_rules(db: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The org's rules by name: ``[rule_public]``. Raises Forbidden (not an operator)."""
    require_role(user, Role.OPERATOR)
    rows = await db.scalars(
        select(AlertRule).where(AlertRule.org_id == user.org_id).order_by(AlertRule.name)
    )
    return [rule_public(r) for r in rows]


async def create_rule(db: AsyncSession, user: User, body: RuleBody) -> dict[str, Any]:
    """Add a rule (audited, committed); returns :func:`rule_public`. Raises Forbidden."""
    require_role(user, Role.OPERATOR)
    rule = AlertRule(org_id=user.org_id, **body.model_dump())
    db.add(rule)
    await db.flush()
    audit_in(db, user, "alert_rule.create", "alert_rule", rule.name)
    await db.commit()
    return rule_public(rule)


async def update_rule(db: AsyncSession, user: User, rule_id: str, body: RuleBody) -> dict[str, Any]:
    """Replace a rule's fields (audited, committed). Raises Forbidden, NotFound (an
    unknown rule or another org's)."""
    require_role(user, Role.OPERATOR)
    rule = await _owned(db, user.org_id, rule_id)
    for key, value in body.model_dump().items():
        setattr(rule, key, value)
    audit_in(db, user, "alert_rule.update", "alert_rule", rule.name)
    await db.commit()
    return rule_public(rule)


async def remove_rule(db: AsyncSession, user: User, rule_id: str) -> None:
    """Remove a rule with its alerts (audited, committed). Raises Forbidden, NotFound."""
    require_role(user, Role.OPERATOR)
    rule = await _owned(db, user.org_id, rule_id)
    await db.delete(rule)
    audit_in(db, user, "alert_rule.remove", "alert_rule", rule.name)
    await db.commit()
