"""Waiting for a Compose stack's services to become healthy after ``up``: each
container healthy by its healthcheck, or running for a while when it has none
(``docker-compose ps --format json``'s ``State``, ``Health`` and ``ExitCode``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from moorage.drivers.docker.compose import StackFiles, compose
from moorage.errors import MoorageError
from moorage.models.environment import Environment

__all__ = ["Unhealthy", "not_ready", "ps_rows", "wait_healthy"]


async def wait_healthy(
    environment: Environment,
    files: StackFiles,
    name: str,
    *,
    timeout_seconds: float,
    stable_seconds: float,
    interval_seconds: float = 0.5,
) -> None:
    """Until every container of stack ``name`` is healthy (its healthcheck) or has run
    for ``stable_seconds`` without one; a container that exited with code 0 counts as
    done (a one-shot job).

    Raises:
        Unhealthy: a container is unhealthy or exited with another code (at once), or
            ``timeout_seconds`` passed first (which containers, and why).
        RuntimeUnavailable: Compose failed.
    """
    deadline = time.monotonic() + timeout_seconds
    running_since: dict[str, float] = {}
    while True:
        output = await compose(environment, files, name, "ps", "--all", "--format", "json")
        waiting = not_ready(ps_rows(output), running_since, stable_seconds)
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise Unhealthy(f"not healthy within {timeout_seconds:g} s: " + "; ".join(waiting))
        await asyncio.sleep(interval_seconds)


class Unhealthy(MoorageError):
    """A stack's services did not become healthy (the message says which and why)."""

    status_code = 503
    default_code = "stack_unhealthy"


def ps_rows(output: str) -> list[dict[str, Any]]:
    """``docker-compose ps --format json`` output (one object a line, or an array);
    Compose's warnings, merged into the output (``level=warning msg=…`` about an unset
    variable), are skipped."""
    rows: list[dict[str, Any]] = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("["):
            rows.extend(json.loads(line))
        elif line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def not_ready(
    rows: list[dict[str, Any]], running_since: dict[str, float], stable_seconds: float
) -> list[str]:
    """What keeps the stack from being healthy, one line per container (empty: ready).

    Raises:
        Unhealthy: a container is unhealthy or exited with a non-zero code (no point
            waiting longer).
    """
    if not rows:
        return ["no container is running"]
    now = time.monotonic()
    waiting = []
    for row in rows:
        name = row.get("Service") or row.get("Name") or "?"
        state, health = row.get("State", ""), row.get("Health", "")
        if health == "unhealthy":
            raise Unhealthy(f"{name} is unhealthy")
        if state in ("exited", "dead"):
            if int(row.get("ExitCode") or 0) != 0:
                raise Unhealthy(f"{name} exited with code {row.get('ExitCode')}")
            continue
        if state != "running":
            running_since.pop(name, None)
            waiting.append(f"{name} is {state or 'not running'}")
        elif health == "healthy":
            continue
        elif health:
            waiting.append(f"{name} is {health}")
        elif now - running_since.setdefault(name, now) < stable_seconds:
            waiting.append(f"{name} has run under {stable_seconds} s")
    return waiting
