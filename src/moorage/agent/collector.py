"""This machine's metrics, read with psutil, as one report.

The report's shape is defined by the hub's model,
:class:`moorage.schemas.fleet.Report` (a unit test validates this collector's output
through it, extra fields forbidden)::

    {"agent_version": "1", "collected_at": "2026-11-23T12:00:00Z",
     "hostname": "web-1", "os": "Linux 6.1.0 (debian 12)", "uptime_seconds": 3600.0,
     "allow_actions": false,
     "metrics": {"cpu_percent": 3.5, "load1": 0.2, "memory_percent": 41.0,
                 "swap_percent": 0.0, "disk_read_bps": 0.0, "disk_write_bps": 512.0,
                 "net_rx_bps": 100.0, "net_tx_bps": 80.0, "processes": 123,
                 "containers_running": 2, "containers_total": 3},
     "disks": [{"mount": "/", "percent": 52.1, "used_bytes": 1, "total_bytes": 2}]}

Percents are 0–100, rates bytes per second over the last interval, ``load1`` the
1-minute load average (emulated by psutil on Windows), ``collected_at`` RFC 3339 UTC.
Container counts are absent when the Docker engine (its Unix socket, or its named pipe
on Windows) cannot be read. Platform differences live in :mod:`moorage.agent.platforms`.
"""

from __future__ import annotations

import platform
import socket
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil

from moorage.agent._common import AGENT_VERSION
from moorage.agent.platforms import Platform, this_platform

__all__ = ["MAX_DISKS", "Collector", "os_name"]

MAX_DISKS = 32
SKIP_FSTYPES = {"squashfs", "tmpfs", "devtmpfs", "overlay", "proc", "sysfs", "nsfs"}


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def os_name(system: Platform) -> str:
    """This machine's OS as the report's ``os``: ``Linux 6.1.0 (Debian GNU/Linux 12
    (bookworm))``, ``Windows 10 (10.0.19045)``, ``Darwin 23.1.0``."""
    name = f"{platform.system()} {platform.release()}"
    if system.is_windows:
        return f"{name} ({platform.version()})"
    try:  # /etc/os-release: Linux only; absent elsewhere and in some containers
        pretty = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        pretty = None
    return f"{name} ({pretty})" if pretty else name


class Collector:
    """Reads the machine's metrics; rates are over the time since the previous call.

    Args:
        docker_socket: the engine's endpoint, for container counts (skipped when it
            cannot be read); default :meth:`Platform.docker_endpoint`.
        system: the platform (default this machine's); injected for tests.
    """

    def __init__(self, docker_socket: str | None = None, system: Platform | None = None) -> None:
        self.system = system or this_platform()
        psutil.cpu_percent(None)  # the first call primes the counter
        self._last = time.monotonic()
        self._disk = psutil.disk_io_counters()
        self._net = psutil.net_io_counters()
        self._docker: httpx.Client | None = None
        transport = self.system.docker_transport(docker_socket)
        if transport is not None:
            self._docker = httpx.Client(transport=transport, timeout=2.0)
        self.os = os_name(self.system)

    def _containers(self) -> dict[str, int]:
        if self._docker is None:
            return {}
        try:
            rows = self._docker.get("http://docker/containers/json", params={"all": "1"}).json()
        except (httpx.HTTPError, OSError, ValueError):
            return {}
        return {
            "containers_running": sum(1 for row in rows if row.get("State") == "running"),
            "containers_total": len(rows),
        }

    def _disks(self) -> list[dict[str, Any]]:
        disks: list[dict[str, Any]] = []
        seen: set[str] = set()
        for part in psutil.disk_partitions(all=False):
            if part.fstype in SKIP_FSTYPES or part.device in seen or len(disks) >= MAX_DISKS:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue
            seen.add(part.device)
            disks.append(
                {
                    "mount": part.mountpoint[:255],
                    "percent": usage.percent,
                    "used_bytes": usage.used,
                    "total_bytes": usage.total,
                }
            )
        if not disks:  # containers: report the root filesystem at least
            usage = psutil.disk_usage("/")
            disks.append(
                {
                    "mount": "/",
                    "percent": usage.percent,
                    "used_bytes": usage.used,
                    "total_bytes": usage.total,
                }
            )
        return disks

    def collect(self, allow_actions: bool = False) -> dict[str, Any]:
        """One report (see the module docstring)."""
        now = time.monotonic()
        elapsed = max(now - self._last, 1e-3)
        disk, net = psutil.disk_io_counters(), psutil.net_io_counters()

        def rate(new: Any, old: Any, field: str) -> float:
            if new is None or old is None:
                return 0.0
            return max(0.0, (getattr(new, field) - getattr(old, field)) / elapsed)

        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        metrics: dict[str, Any] = {
            "cpu_percent": psutil.cpu_percent(None),
            "load1": self.system.load1(),
            "memory_percent": memory.percent,
            "swap_percent": swap.percent,
            "disk_read_bps": round(rate(disk, self._disk, "read_bytes"), 1),
            "disk_write_bps": round(rate(disk, self._disk, "write_bytes"), 1),
            "net_rx_bps": round(rate(net, self._net, "bytes_recv"), 1),
            "net_tx_bps": round(rate(net, self._net, "bytes_sent"), 1),
            "processes": len(psutil.pids()),
            **self._containers(),
        }
        self._last, self._disk, self._net = now, disk, net
        return {
            "agent_version": AGENT_VERSION,
            "collected_at": _utc_now(),
            "hostname": socket.gethostname(),
            "os": self.os,
            "uptime_seconds": round(time.time() - psutil.boot_time(), 1),
            "allow_actions": allow_actions,
            "metrics": metrics,
            "disks": self._disks(),
        }
