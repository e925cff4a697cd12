"""What an engine says of itself (Docker Engine API, ``GET /info``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["EngineInfo"]


@dataclass(frozen=True)
class EngineInfo:
    """An engine's version (``"26.1.5"``), object counts, and its host's CPUs
    (``NCPU``) and memory (``MemTotal``, here in MB; None when not said)."""

    version: str
    containers_total: int
    containers_running: int
    images_total: int
    cpus: float | None = None
    memory_mb: int | None = None

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> EngineInfo:
        """From the body of ``GET /info``."""
        memory = info.get("MemTotal")
        return cls(
            version=str(info.get("ServerVersion", "unknown")),
            containers_total=int(info.get("Containers", 0)),
            containers_running=int(info.get("ContainersRunning", 0)),
            images_total=int(info.get("Images", 0)),
            cpus=float(info["NCPU"]) if info.get("NCPU") else None,
            memory_mb=int(memory) // (1024 * 1024) if memory else None,
        )
