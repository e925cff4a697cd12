"""Pruning unused images (dangling), volumes or networks of an environment
(operators); audited as ``<kind>.prune``."""

from __future__ import annotations

from typing import Any

from moorage.drivers.docker import prune
from moorage.services.docker._operation import Caller, DockerService

__all__ = ["PruneService"]


class PruneService(DockerService):
    """Pruning. Raises Forbidden below operator, NotFound for an unknown environment,
    InvalidInput for another ``kind``, RuntimeUnavailable when unreachable."""

    async def prune(self, caller: Caller, env: str, kind: str) -> dict[str, Any]:
        """Prune ``kind`` (``images``, ``volumes`` or ``networks``):
        ``{"deleted": [...], "reclaimed_bytes": N}``."""
        async with self.operation(caller, env, f"{kind}.prune", "*") as op:
            return await prune.prune(op.driver, kind)
