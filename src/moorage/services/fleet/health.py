"""Health score (0–100) and status (``ok``, ``warn``, ``critical``, ``offline``) of a
node from its latest sample.

Status, first match wins (defaults; :class:`Thresholds` changes them):

- ``offline``: no report for the fleet TTL (``MOORAGE_FLEET_TTL_SECONDS``, 60 s).
- ``critical``: CPU ≥ 95 % or disk ≥ 95 %.
- ``warn``: CPU ≥ 80 %, memory ≥ 90 % or disk ≥ 90 %.
- ``ok`` otherwise.

Score: ``100 − 0.5·over(cpu, 50) − 0.8·over(memory, 60) − 1.2·over(disk, 70)
− 0.2·over(swap, 50)``, where ``over(x, s) = max(0, x − s)`` in percentage
points, clamped to 0–100; a ``critical`` node scores at most 40, a ``warn`` node
at most 70, an ``offline`` node 0. So an idle node scores 100, CPU pinned at 100 %
alone gives 40 (critical), memory at 95 % alone 70 (warn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Thresholds", "assess"]


@dataclass(frozen=True)
class Thresholds:
    """Status thresholds in percent (the defaults are the documented ones)."""

    cpu_warn: float = 80.0
    cpu_critical: float = 95.0
    memory_warn: float = 90.0
    disk_warn: float = 90.0
    disk_critical: float = 95.0


WEIGHTS = (
    ("cpu_percent", 50.0, 0.5),
    ("memory_percent", 60.0, 0.8),
    ("disk_percent", 70.0, 1.2),
    ("swap_percent", 50.0, 0.2),
)
CAPS = {"critical": 40, "warn": 70, "ok": 100}


def assess(
    metrics: dict[str, Any], *, online: bool = True, thresholds: Thresholds = Thresholds()
) -> tuple[int, str]:
    """``(score, status)`` of a node whose latest sample is ``metrics`` (keys as in
    :data:`moorage.models.fleet.METRICS`; missing ones count as 0)."""
    if not online:
        return 0, "offline"
    cpu = float(metrics.get("cpu_percent") or 0)
    memory = float(metrics.get("memory_percent") or 0)
    disk = float(metrics.get("disk_percent") or 0)
    if cpu >= thresholds.cpu_critical or disk >= thresholds.disk_critical:
        status = "critical"
    elif (
        cpu >= thresholds.cpu_warn
        or memory >= thresholds.memory_warn
        or disk >= thresholds.disk_warn
    ):
        status = "warn"
    else:
        status = "ok"
    score = 100.0
    for key, start, weight in WEIGHTS:
        score -= weight * max(0.0, float(metrics.get(key) or 0) - start)
    return round(max(0.0, min(score, CAPS[status]))), status
