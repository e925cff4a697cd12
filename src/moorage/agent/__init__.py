"""The Moorage agent: runs on each fleet machine, pushes its metrics to the hub every
interval, runs allow-listed actions the hub hands back, and prints metrics locally
(``moorage top``).

It needs only the standard library, psutil and httpx, so that machines without
Moorage can run it as one file (:func:`moorage.agent.bundle.single_file`, served at
``GET /api/v1/agent.py``). Nothing here imports the hub's code; the report shape
is defined by the hub's :class:`moorage.schemas.fleet.Report`.
"""

from moorage.agent._common import AGENT_VERSION, DEFAULT_CONFIG, DEFAULT_INTERVAL
from moorage.agent.collector import Collector
from moorage.agent.enrolment import enroll, load_config
from moorage.agent.main import main
from moorage.agent.reporter import Agent
from moorage.agent.top import top

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
