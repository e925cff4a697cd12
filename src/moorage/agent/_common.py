"""What every part of the agent shares: its version, defaults, logger, and how to read
the hub's error answers."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from moorage.agent.platforms import this_platform

__all__ = ["AGENT_VERSION", "DEFAULT_CONFIG", "DEFAULT_INTERVAL", "hub_message", "log"]

AGENT_VERSION = "1"
# /etc/moorage-agent.json; %ProgramData%\Moorage\agent.toml on Windows
DEFAULT_CONFIG = Path(this_platform().config_path())
DEFAULT_INTERVAL = 10.0

log = logging.getLogger("moorage.agent")


def hub_message(response: httpx.Response) -> str:
    """The message of the hub's ``{"error": {"message": …}}`` answer, or the start of
    the body when it is not one."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
