"""Enrolment: trading a one-time enrolment token for this node's credential, and the
config file that keeps it."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import httpx

from moorage.agent._common import hub_message
from moorage.agent.collector import Collector

__all__ = ["enroll", "load_config"]


def load_config(path: Path) -> dict[str, Any]:
    """The agent's config: ``{"server", "node_id", "credential", "name", "ca_file"?}``.

    Raises:
        SystemExit: the file does not exist (not enrolled yet).
    """
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"{path} does not exist; run `moorage agent enroll` first") from None


def enroll(server: str, token: str, config_path: Path, *, ca_file: str | None = None) -> dict:
    """Exchange an enrolment token for this node's credential and save it to
    ``config_path`` (mode 0600). Returns the saved config.

    Raises:
        SystemExit: the hub refused the token (its message) or cannot be reached.
    """
    verify: Any = ca_file or True
    body = {"token": token, "hostname": socket.gethostname(), "os": Collector().os}
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/api/v1/agents/enroll", json=body, timeout=15, verify=verify
        )
    except httpx.HTTPError as exc:
        raise SystemExit(f"cannot reach {server}: {exc}") from None
    if response.status_code != 201:
        raise SystemExit(f"enrolment refused ({response.status_code}): {hub_message(response)}")
    answer = response.json()
    config = {"server": server.rstrip("/"), **answer}
    if ca_file:
        config["ca_file"] = ca_file
    config_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
    os.chmod(config_path, 0o600)
    return config
