"""Request models of alerting: alert rules and notification channels."""

from __future__ import annotations

from pydantic import Field

from moorage.models.fleet import METRICS
from moorage.schemas._input import InputModel

__all__ = ["RULE_METRICS", "ChannelBody", "RuleBody"]

RULE_METRICS = (*METRICS, "offline")
"""What a rule can watch: a sample's metric, or ``offline`` (no report)."""

METRIC_PATTERN = "^(" + "|".join(RULE_METRICS) + ")$"


class RuleBody(InputModel):
    """``metric`` ≥ ``threshold`` for ``duration_seconds``; ``metric`` ``offline``: no
    report for the fleet TTL plus ``duration_seconds`` (``threshold`` unused)."""

    name: str = Field(min_length=1, max_length=128)
    metric: str = Field(pattern=METRIC_PATTERN)
    threshold: float = Field(0.0, ge=0, le=1e15)
    duration_seconds: int = Field(0, ge=0, le=86400)
    severity: str = Field("warn", pattern="^(warn|critical)$")
    tag: str | None = Field(None, max_length=64)
    enabled: bool = True


class ChannelBody(InputModel):
    """An Apprise URL (``json://host/path``, ``slack://…``, ``msteams://…``,
    ``mailto://…``); stored encrypted, never shown again."""

    name: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=4, max_length=2000)
    cooldown_seconds: int = Field(300, ge=0, le=86400)
    enabled: bool = True
