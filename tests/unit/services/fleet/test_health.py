"""Health score and status of a node from its latest values."""

from __future__ import annotations

import pytest

from moorage.services.fleet.health import Thresholds, assess


@pytest.mark.parametrize(
    ("metrics", "online", "expected"),
    [
        ({}, True, (100, "ok")),
        ({"cpu_percent": 70}, True, (90, "ok")),
        ({"cpu_percent": 85}, True, (70, "warn")),
        ({"cpu_percent": 100}, True, (40, "critical")),
        ({"memory_percent": 95}, True, (70, "warn")),
        ({"disk_percent": 92}, True, (70, "warn")),
        ({"disk_percent": 96}, True, (40, "critical")),
        ({"cpu_percent": 10}, False, (0, "offline")),
    ],
)
def test_health(metrics, online, expected):
    assert assess(metrics, online=online) == expected


def test_health_thresholds_are_configurable():
    assert assess({"cpu_percent": 85}, thresholds=Thresholds(cpu_warn=90))[1] == "ok"
