"""What changes between two commits of a Git stack, and between what Moorage deployed
and what runs: pure functions over text and container summaries."""

from __future__ import annotations

import difflib
import re
from typing import Any

__all__ = ["drift_of", "env_keys", "pending_diff", "referenced_variables", "snapshot_of"]

CONFIG_HASH_LABEL = "com.docker.compose.config-hash"
SERVICE_LABEL = "com.docker.compose.service"
# Compose interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR?error}…; $$ is a literal $.
_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


def env_keys(env_text: str) -> set[str]:
    """The variable names a ``.env`` file sets (``KEY=value``, ``export KEY=…``)."""
    keys = set()
    for line in env_text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        keys.add(line.split("=", 1)[0].removeprefix("export ").strip())
    return keys


def referenced_variables(compose_yaml: str) -> set[str]:
    """The variables a Compose file interpolates (``${VAR}``, ``$VAR``)."""
    return {a or b for a, b in _VARIABLE.findall(compose_yaml)}


def pending_diff(old: str, new: str, env_text: str, path: str) -> dict[str, Any]:
    """What an operator approves: ``{compose_diff, env: {added, removed, missing}}``:
    the unified diff of the Compose file, the variables the new file references that the
    old one did not (``added``) and the other way round (``removed``), and those it
    references that the stack's ``.env`` does not set (``missing``; Compose then uses
    the file's default or an empty string). Names only: values may be secrets."""
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )
    before, after = referenced_variables(old), referenced_variables(new)
    return {
        "compose_diff": diff,
        "env": {
            "added": sorted(after - before),
            "removed": sorted(before - after),
            "missing": sorted(after - env_keys(env_text)),
        },
    }


def snapshot_of(containers: list[dict[str, Any]]) -> dict[str, Any]:
    """``{service: {id, config_hash, image, state}}`` of a stack's containers (from
    :func:`moorage.drivers.docker.containers.list_containers`), as deployed."""
    found: dict[str, Any] = {}
    for container in containers:
        labels = container.get("labels") or {}
        service = labels.get(SERVICE_LABEL) or container.get("name", "?")
        found[service] = {
            "id": container.get("id"),
            "config_hash": labels.get(CONFIG_HASH_LABEL),
            "image": container.get("image"),
            "state": container.get("state"),
        }
    return found


def drift_of(deployed: dict[str, Any], containers: list[dict[str, Any]]) -> list[str]:
    """How the running stack differs from ``deployed`` (a :func:`snapshot_of`), one
    sentence per difference; empty when it matches."""
    now = snapshot_of(containers)
    drift = []
    for service, was in sorted(deployed.items()):
        current = now.get(service)
        if current is None:
            drift.append(f"{service}: its container was removed")
            continue
        if current["config_hash"] != was["config_hash"]:
            drift.append(f"{service}: its configuration changed outside Moorage")
        elif current["id"] != was["id"]:
            drift.append(f"{service}: its container was replaced")
        if current["image"] != was["image"]:
            drift.append(f"{service}: runs {current['image']} instead of {was['image']}")
        if current["state"] != was["state"]:
            drift.append(f"{service}: {current['state']} instead of {was['state']}")
    for service in sorted(set(now) - set(deployed)):
        drift.append(f"{service}: a container Moorage did not deploy")
    return drift
