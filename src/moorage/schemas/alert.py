"""Request models of alerting: alert rules and notification channels."""

from __future__ import annotations

from pydantic import Field

from moorage.models.fleet import METRICS
from moorage.schemas._input import InputModel

__all__ = ["RULE_METRICS", "ChannelBody", "RuleBody", "RuleSwitch"]

RULE_METRICS = (*METRICS, "offline", "critical")
"""What a rule can watch: a sample's metric, ``offline`` (no report), or ``critical``
(the node's health status, :mod:`moorage.services.fleet.health`)."""

METRIC_PATTERN = "^(" + "|".join(RULE_METRICS) + ")$"


class RuleBody(InputModel):
    """``metric`` ≥ ``threshold`` for ``duration_seconds``; ``metric`` ``offline``: no
    report for the fleet TTL plus ``duration_seconds``; ``metric`` ``critical``: the
    node's health status is critical for ``duration_seconds`` (0: at its latest
    report). ``threshold`` is unused by the last two."""

    name: str = Field(min_length=1, max_length=128)
    metric: str = Field(pattern=METRIC_PATTERN)
    threshold: float = Field(0.0, ge=0, le=1e15)
    duration_seconds: int = Field(0, ge=0, le=86400)
    severity: str = Field("warn", pattern="^(warn|critical)$")
    tag: str | None = Field(None, max_length=64)
    enabled: bool = True


class RuleSwitch(InputModel):
    """Turn a rule on or off (built-in rules included)."""

    enabled: bool


class ChannelBody(InputModel):
    """An Apprise URL (``json://host/path``, ``slack://…``, ``msteams://…``,
    ``mailto://…``); stored encrypted, never shown again."""

    name: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=4, max_length=2000)
    cooldown_seconds: int = Field(300, ge=0, le=86400)
    enabled: bool = True
    rule_id: str | None = Field(
        None, max_length=36, description="Only this rule's alerts (all of the org's when null)."
    )
