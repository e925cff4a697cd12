"""Pruning unused images, volumes or networks of one engine (``POST /{kind}/prune``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import translated
from moorage.errors import InvalidInput

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["PRUNABLE", "prune"]

PRUNABLE = ("images", "volumes", "networks")


async def prune(driver: DockerDriver, kind: str) -> dict[str, Any]:
    """Prune unused ``images``, ``volumes`` or ``networks``: ``{"deleted": [...],
    "reclaimed_bytes": N}``. Images: dangling only (as ``docker image prune``)."""
    if kind not in PRUNABLE:
        raise InvalidInput(f"cannot prune {kind!r}", field="kind")
    async with translated(driver.endpoint, f"prune {kind}"):
        raw = await driver.client._query_json(f"{kind}/prune", method="POST")
    deleted = raw.get(f"{kind.capitalize()}Deleted") or raw.get("ImagesDeleted") or []
    return {"deleted": deleted, "reclaimed_bytes": raw.get("SpaceReclaimed", 0)}
