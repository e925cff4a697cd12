"""One resource-usage sample of a container (``GET /containers/{id}/stats``), computed
as ``docker stats`` shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import translated

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["container_stats"]


async def container_stats(driver: DockerDriver, ref: str) -> dict[str, Any]:
    """One sample: ``{cpu_percent, memory_bytes, memory_limit_bytes, network_rx_bytes,
    network_tx_bytes, block_read_bytes, block_write_bytes}``. Memory is usage minus
    the inactive file cache, as ``docker stats`` shows it; CPU % is of one core × cores."""
    async with translated(driver.endpoint, f"read the stats of {ref}"):
        (stats,) = await driver.client.containers.container(ref).stats(stream=False)
    cpu, pre = stats.get("cpu_stats", {}), stats.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or [1])
    memory = stats.get("memory_stats", {})
    detail = memory.get("stats", {})
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    networks = stats.get("networks") or {}
    blkio = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return {
        "cpu_percent": round(cpu_delta / system_delta * cores * 100, 2)
        if system_delta > 0 and cpu_delta >= 0
        else 0.0,
        "memory_bytes": max(0, memory.get("usage", 0) - cache),
        "memory_limit_bytes": memory.get("limit", 0),
        "network_rx_bytes": sum(n.get("rx_bytes", 0) for n in networks.values()),
        "network_tx_bytes": sum(n.get("tx_bytes", 0) for n in networks.values()),
        "block_read_bytes": sum(
            e.get("value", 0) for e in blkio if e.get("op") in ("Read", "read")
        ),
        "block_write_bytes": sum(
            e.get("value", 0) for e in blkio if e.get("op") in ("Write", "write")
        ),
    }
