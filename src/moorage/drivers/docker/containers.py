"""Containers an operator manages on one engine: list, inspect, create, rename, act
(start, stop …), remove. Logs are in :mod:`.logs`, stats in :mod:`.stats`.

Functions over one :class:`~moorage.drivers.docker.driver.DockerDriver`; shapes follow
the Docker Engine API (v1.41+, ``/containers``) with the fields the UI shows. Errors are
translated as in :mod:`._errors`: RuntimeUnavailable (unreachable), NotFound, Conflict.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import translated
from moorage.errors import InvalidInput

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = [
    "CONTAINER_ACTIONS",
    "container_action",
    "create_container",
    "inspect_container",
    "list_containers",
    "remove_container",
    "rename_container",
]

CONTAINER_ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")


def _summary(raw: dict[str, Any]) -> dict[str, Any]:
    labels = raw.get("Labels") or {}
    return {
        "id": raw["Id"],
        "name": (raw.get("Names") or ["/"])[0].lstrip("/"),
        "image": raw.get("Image", ""),
        "state": raw.get("State", ""),
        "status": raw.get("Status", ""),
        "created": raw.get("Created"),
        "ports": [
            {
                "private": p.get("PrivatePort"),
                "public": p.get("PublicPort"),
                "ip": p.get("IP"),
                "type": p.get("Type"),
            }
            for p in raw.get("Ports") or []
        ],
        "labels": labels,
        "stack": labels.get("com.docker.compose.project"),
        "size_rw": raw.get("SizeRw"),
    }


async def list_containers(
    driver: DockerDriver,
    *,
    state: str | None = None,
    name: str | None = None,
    label: str | None = None,
    stack: str | None = None,
    size: bool = False,
) -> list[dict[str, Any]]:
    """Containers, running or not: ``[{id, name, image, state, status, created, ports,
    labels, stack, size_rw}]``; sizes only when ``size`` (slow on big engines)."""
    filters: dict[str, list[str]] = {}
    if state:
        filters["status"] = [state]
    if name:
        filters["name"] = [name]
    if label:
        filters.setdefault("label", []).append(label)
    if stack:
        filters.setdefault("label", []).append(f"com.docker.compose.project={stack}")
    params: dict[str, Any] = {"all": "1", "size": "1" if size else "0"}
    if filters:
        params["filters"] = json.dumps(filters)
    async with translated(driver.endpoint, "list containers"):
        raw = await driver.client._query_json("containers/json", method="GET", params=params)
    return [_summary(item) for item in raw]


async def inspect_container(driver: DockerDriver, ref: str) -> dict[str, Any]:
    """``GET /containers/{id}/json``. Raises NotFound."""
    async with translated(driver.endpoint, f"inspect container {ref}"):
        return await driver.client.containers.container(ref).show()


async def container_action(
    driver: DockerDriver, ref: str, action: str, *, timeout_seconds: int = 10
) -> None:
    """start, stop, restart, kill, pause or unpause a container.

    Raises:
        InvalidInput: unknown action. NotFound, Conflict (e.g. pausing a stopped one).
    """
    if action not in CONTAINER_ACTIONS:
        raise InvalidInput(
            f"unknown action {action!r}; use one of {', '.join(CONTAINER_ACTIONS)}", field="action"
        )
    path = f"containers/{ref}/{action}"
    params = {"t": str(timeout_seconds)} if action in ("stop", "restart") else None
    async with (
        translated(driver.endpoint, f"{action} container {ref}"),
        driver.client._query(path, method="POST", params=params),
    ):
        pass


async def rename_container(driver: DockerDriver, ref: str, name: str) -> None:
    async with translated(driver.endpoint, f"rename container {ref}"):
        await driver.client.containers.container(ref).rename(name)


async def remove_container(
    driver: DockerDriver, ref: str, *, volumes: bool = False, force: bool = True
) -> None:
    """Remove a container (and its anonymous volumes with ``volumes``)."""
    async with translated(driver.endpoint, f"remove container {ref}"):
        await driver.client.containers.container(ref).delete(force=force, v=volumes)


async def create_container(
    driver: DockerDriver,
    config: dict[str, Any],
    name: str | None,
    *,
    start: bool = True,
) -> str:
    """Create (and start) a container from a Docker ``ContainerConfig``; returns its id."""
    async with translated(driver.endpoint, f"create a container from {config.get('Image')}"):
        container = await driver.client.containers.create(config=config, name=name)
        if start:
            await container.start()
    return container.id
