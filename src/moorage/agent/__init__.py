"""The Moorage agent: runs on each fleet machine, pushes its metrics to the hub every
interval, runs allow-listed actions the hub hands back, and prints metrics locally
(``moorage top``).

It needs only the standard library, psutil and httpx, so that machines without
Moorage can run it as one file (:func:`moorage.agent.bundle.single_file`, served at
``GET /api/v1/agent.py``). Nothing here imports the hub's code; the report shape
is defined by the hub's :class:`moorage.schemas.fleet.Report`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moorage.agent._common import AGENT_VERSION, DEFAULT_CONFIG, DEFAULT_INTERVAL
    from moorage.agent.collector import Collector
    from moorage.agent.enrolment import enroll, load_config
    from moorage.agent.main import main
    from moorage.agent.reporter import Agent
    from moorage.agent.top import top

# Imported on first use (PEP 562): the server imports moorage.agent.actions (the
# action catalog, standard library only) and must not pay for httpx and psutil.
_WHERE = {
    "AGENT_VERSION": "_common",
    "DEFAULT_CONFIG": "_common",
    "DEFAULT_INTERVAL": "_common",
    "Agent": "reporter",
    "Collector": "collector",
    "enroll": "enrolment",
    "load_config": "enrolment",
    "main": "main",
    "top": "top",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


__all__ = [
    "AGENT_VERSION",
    "DEFAULT_CONFIG",
    "DEFAULT_INTERVAL",
    "Agent",
    "Collector",
    "enroll",
    "load_config",
    "main",
    "top",
]
