"""Alert rules: what the evaluator (:mod:`moorage.services.fleet.alerts`) watches.
Changes are audited. A built-in rule (every org's "health turned critical",
:mod:`moorage.services.fleet.defaults`) keeps its metric and cannot be removed; it
can be disabled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.fleet import AlertRule
from moorage.models.user import Role, User
from moorage.schemas.alert import RuleBody, RuleSwitch
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in

__all__ = [
    "create_rule",
    "list_rules",
    "remove_rule",
    "rule_public",
    "set_rule_enabled",
    "update_rule",
]


def rule_public(rule: AlertRule) -> dict[str, Any]:
    """``{id, name, metric, threshold, duration_seconds, severity, tag, enabled,
    builtin}`` (``builtin``: ``"health_critical"`` for the default rule, else null)."""
    return {
        "id": rule.id,
        "name": rule.name,
        "metric": rule.metric,
        "threshold": rule.threshold,
        "duration_seconds": rule.duration_seconds,
        "severity": rule.severity,
        "tag": rule.tag,
        "enabled": rule.enabled,
        "builtin": rule.builtin,
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
    """Replace a rule's fields (audited, committed).

    Raises:
        Forbidden: not an operator.
        NotFound: an unknown rule or another org's.
        InvalidInput: a built-in rule's metric changed (field ``metric``).
    """
    require_role(user, Role.OPERATOR)
    rule = await _owned(db, user.org_id, rule_id)
    if rule.builtin and body.metric != rule.metric:
        raise InvalidInput(
            f"the built-in rule {rule.name!r} watches {rule.metric}; add a rule of your own "
            "for another metric",
            field="metric",
        )
    for key, value in body.model_dump().items():
        setattr(rule, key, value)
    audit_in(db, user, "alert_rule.update", "alert_rule", rule.name)
    await db.commit()
    return rule_public(rule)


async def set_rule_enabled(
    db: AsyncSession, user: User, rule_id: str, body: RuleSwitch
) -> dict[str, Any]:
    """Enable or disable a rule, built-in ones included (audited ``alert_rule.enable`` or
    ``alert_rule.disable``, committed); a disabled rule's open alerts resolve at the next
    evaluation. Returns :func:`rule_public`. Raises Forbidden, NotFound."""
    require_role(user, Role.OPERATOR)
    rule = await _owned(db, user.org_id, rule_id)
    rule.enabled = body.enabled
    action = "alert_rule.enable" if body.enabled else "alert_rule.disable"
    audit_in(db, user, action, "alert_rule", rule.name)
    await db.commit()
    return rule_public(rule)


async def remove_rule(db: AsyncSession, user: User, rule_id: str) -> None:
    """Remove a rule with its alerts (audited, committed).

    Raises:
        Forbidden: not an operator.
        NotFound: an unknown rule or another org's.
        Conflict: a built-in rule (code ``builtin_rule``): disable it instead.
    """
    require_role(user, Role.OPERATOR)
    rule = await _owned(db, user.org_id, rule_id)
    if rule.builtin:
        raise Conflict(
            f"the rule {rule.name!r} is built in: disable it instead", code="builtin_rule"
        )
    await db.delete(rule)
    audit_in(db, user, "alert_rule.remove", "alert_rule", rule.name)
    await db.commit()
