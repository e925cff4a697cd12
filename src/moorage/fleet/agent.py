"""The Moorage agent: collects a machine's metrics with psutil and pushes a report to
the hub every interval; runs allow-listed actions the hub hands it back.

This module is self-contained (standard library, psutil and httpx) so that the
install link can serve it as a single file, ``moorage_agent.py``, to machines that
do not have Moorage installed; ``moorage agent …`` calls the same functions.

Report format (``POST /api/v1/agents/report``, JSON, at most 64 KiB)::

    {"agent_version": "1", "collected_at": "2026-11-23T12:00:00Z",
     "hostname": "web-1", "os": "Linux 6.1.0 (debian 12)", "uptime_seconds": 3600.0,
     "allow_actions": false,
     "metrics": {"cpu_percent": 3.5, "load1": 0.2, "memory_percent": 41.0,
                 "swap_percent": 0.0, "disk_read_bps": 0.0, "disk_write_bps": 512.0,
                 "net_rx_bps": 100.0, "net_tx_bps": 80.0, "processes": 123,
                 "containers_running": 2, "containers_total": 3},
     "disks": [{"mount": "/", "percent": 52.1, "used_bytes": 1, "total_bytes": 2}]}

Percents are 0–100, rates bytes per second over the last interval, ``load1`` the
1-minute load average, ``collected_at`` RFC 3339 UTC. Container counts are absent
when no Docker socket is readable.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import logging
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

__all__ = [
    "AGENT_VERSION",
    "Agent",
    "Collector",
    "enroll",
    "load_config",
    "main",
    "top",
]

AGENT_VERSION = "1"
DEFAULT_CONFIG = Path("/etc/moorage-agent.json")
DEFAULT_INTERVAL = 10.0
MAX_DISKS = 32
OUTPUT_LIMIT = 64 * 1024
SKIP_FSTYPES = {"squashfs", "tmpfs", "devtmpfs", "overlay", "proc", "sysfs", "nsfs"}

log = logging.getLogger("moorage.agent")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Collector:
    """Reads the machine's metrics; rates are over the time since the previous call.

    Args:
        docker_socket: the engine's socket, for container counts (skipped when it
            cannot be read).
    """

    def __init__(self, docker_socket: str = "/var/run/docker.sock") -> None:
        psutil.cpu_percent(None)  # the first call primes the counter
        self._last = time.monotonic()
        self._disk = psutil.disk_io_counters()
        self._net = psutil.net_io_counters()
        self._docker: httpx.Client | None = None
        if os.access(docker_socket, os.R_OK | os.W_OK):
            self._docker = httpx.Client(
                transport=httpx.HTTPTransport(uds=docker_socket), timeout=2.0
            )
        release = (
            platform.freedesktop_os_release() if hasattr(platform, "freedesktop_os_release") else {}
        )
        self.os = f"{platform.system()} {platform.release()}"
        if release.get("PRETTY_NAME"):
            self.os += f" ({release['PRETTY_NAME']})"

    def _containers(self) -> dict[str, int]:
        if self._docker is None:
            return {}
        try:
            rows = self._docker.get("http://docker/containers/json", params={"all": "1"}).json()
        except (httpx.HTTPError, ValueError):
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
            "load1": os.getloadavg()[0],
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
            "collected_at": _now(),
            "hostname": socket.gethostname(),
            "os": self.os,
            "uptime_seconds": round(time.time() - psutil.boot_time(), 1),
            "allow_actions": allow_actions,
            "metrics": metrics,
            "disks": self._disks(),
        }


def load_config(path: Path) -> dict[str, Any]:
    """The agent's config: ``{"server", "node_id", "credential", "name", "ca_file"?}``."""
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
        raise SystemExit(f"enrolment refused ({response.status_code}): {_message(response)}")
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


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


class Agent:
    """Pushes a report every ``interval`` seconds; keeps up to ``buffer_size`` unsent
    reports while the hub is unreachable and delivers them oldest first once it
    answers. Retries back off exponentially (up to ``max_backoff`` seconds) with
    full jitter.

    Args:
        config: from :func:`load_config`.
        allow_actions: run the actions the hub hands back (otherwise never).
        clock, sleep, transport: injected for tests.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        interval: float = DEFAULT_INTERVAL,
        allow_actions: bool = False,
        buffer_size: int = 8640,
        max_backoff: float = 300.0,
        collector: Collector | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = config["server"]
        self.interval = interval
        self.allow_actions = allow_actions
        self.buffer: collections.deque[dict[str, Any]] = collections.deque(maxlen=buffer_size)
        self.max_backoff = max_backoff
        self.failures = 0
        self.retry_at = 0.0
        self.dropped = 0
        self._collector = collector or Collector()
        self._clock, self._sleep = clock, sleep
        self._http = httpx.Client(
            base_url=self.server,
            headers={
                "Authorization": f"Bearer {config['credential']}",
                "User-Agent": f"moorage-agent/{AGENT_VERSION}",
            },
            timeout=10.0,
            verify=config.get("ca_file") or True,
            transport=transport,
        )

    def tick(self) -> None:
        """Collect one report and deliver what the buffer holds, if it is time."""
        if len(self.buffer) == self.buffer.maxlen:
            self.dropped += 1
        self.buffer.append(self._collector.collect(self.allow_actions))
        if self._clock() >= self.retry_at:
            self.deliver()

    def deliver(self) -> None:
        """Send buffered reports oldest first; stop at the first failure and back off."""
        while self.buffer:
            try:
                response = self._http.post("/api/v1/agents/report", json=self.buffer[0])
            except httpx.HTTPError as exc:
                self._back_off(f"hub unreachable: {exc}")
                return
            if response.status_code >= 500 or response.status_code in (401, 403, 429):
                self._back_off(f"hub answered {response.status_code}: {_message(response)}")
                return
            self.buffer.popleft()
            if response.status_code >= 400:  # this report is bad: drop it, keep going
                log.error("report refused (%s): %s", response.status_code, _message(response))
                continue
            self.failures = 0
            self.retry_at = 0.0
            for action in response.json().get("actions", []):
                self.run_action(action)

    def _back_off(self, reason: str) -> None:
        self.failures += 1
        ceiling = min(self.max_backoff, self.interval * 2 ** min(self.failures, 16))
        delay = random.uniform(self.interval / 2, ceiling)  # full jitter, never below half a tick
        self.retry_at = self._clock() + delay
        log.warning("%s; %d report(s) buffered, retry in %.0f s", reason, len(self.buffer), delay)

    def run_action(self, action: dict[str, Any]) -> None:
        """Run an action's argument vector (never through a shell) with its timeout and
        report the exit code and output; refused unless ``allow_actions``."""
        argv = [str(a) for a in action.get("argv", [])]
        result: dict[str, Any]
        if not self.allow_actions or not argv:
            result = {
                "exit_code": None,
                "output": "actions are not allowed on this agent",
                "state": "refused",
            }
        else:
            try:
                done = subprocess.run(
                    argv,
                    capture_output=True,
                    timeout=action.get("timeout_seconds", 60),
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
                output = (done.stdout + done.stderr)[-OUTPUT_LIMIT:].decode(errors="replace")
                result = {
                    "exit_code": done.returncode,
                    "output": output,
                    "state": "succeeded" if done.returncode == 0 else "failed",
                }
            except subprocess.TimeoutExpired as exc:
                partial = bytes(exc.stdout or b"") + bytes(exc.stderr or b"")
                result = {
                    "exit_code": None,
                    "output": partial[-OUTPUT_LIMIT:].decode(errors="replace"),
                    "state": "timed_out",
                }
            except OSError as exc:
                result = {"exit_code": None, "output": str(exc), "state": "failed"}
        try:
            self._http.post(f"/api/v1/agents/actions/{action['id']}/result", json=result)
        except httpx.HTTPError as exc:
            log.warning("could not report action %s: %s", action.get("id"), exc)

    def run_forever(self) -> None:
        """Tick every ``interval`` seconds until interrupted."""
        next_at = self._clock()
        while True:
            self.tick()
            next_at += self.interval
            self._sleep(max(0.0, next_at - self._clock()))


def top(
    interval: float,
    *,
    export_csv: Path | None = None,
    export_jsonl: Path | None = None,
    count: int | None = None,
    out: Any = sys.stdout,
) -> None:
    """The local command-line mode: print this machine's metrics and health every
    ``interval`` seconds, appending each sample to CSV and/or JSONL files."""
    collector = Collector()
    fields = [
        "collected_at",
        "cpu_percent",
        "memory_percent",
        "swap_percent",
        "disk_percent",
        "load1",
        "net_rx_bps",
        "net_tx_bps",
        "uptime_seconds",
    ]
    writer = None
    csv_handle = open(export_csv, "a", newline="") if export_csv else None
    jsonl_handle = open(export_jsonl, "a") if export_jsonl else None
    if csv_handle is not None:
        writer = csv.DictWriter(csv_handle, fieldnames=fields, extrasaction="ignore")
        if csv_handle.tell() == 0:
            writer.writeheader()
    try:
        for n in _counter(count):
            if n:
                time.sleep(interval)
            report = collector.collect()
            row = {
                **report["metrics"],
                "collected_at": report["collected_at"],
                "uptime_seconds": report["uptime_seconds"],
                "disk_percent": max(d["percent"] for d in report["disks"]),
            }
            print(
                f"{row['collected_at'][:19]}  cpu {row['cpu_percent']:5.1f}%  "
                f"mem {row['memory_percent']:5.1f}%  disk {row['disk_percent']:5.1f}%  "
                f"load {row['load1']:.2f}  rx {row['net_rx_bps'] / 1024:8.1f} KiB/s  "
                f"tx {row['net_tx_bps'] / 1024:8.1f} KiB/s",
                file=out,
                flush=True,
            )
            if writer is not None and csv_handle is not None:
                writer.writerow(row)
                csv_handle.flush()
            if jsonl_handle is not None:
                jsonl_handle.write(json.dumps(row) + "\n")
                jsonl_handle.flush()
    finally:
        for handle in (csv_handle, jsonl_handle):
            if handle is not None:
                handle.close()


def _counter(count: int | None) -> Iterable[int]:
    n = 0
    while count is None or n < count:
        yield n
        n += 1


def main(argv: list[str] | None = None) -> None:
    """``moorage_agent.py enroll|run|top …`` for machines without Moorage installed."""
    parser = argparse.ArgumentParser(prog="moorage-agent", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_enroll = commands.add_parser("enroll", help="exchange an enrolment token for a credential")
    p_enroll.add_argument("--server", required=True)
    p_enroll.add_argument("--token", required=True)
    p_enroll.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p_enroll.add_argument("--ca-file")
    p_run = commands.add_parser("run", help="push a report every interval")
    p_run.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p_run.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    p_run.add_argument("--allow-actions", action="store_true")
    p_run.add_argument("--max-backoff", type=float, default=300.0, help="seconds")
    p_top = commands.add_parser("top", help="print this machine's metrics")
    p_top.add_argument("--interval", type=float, default=2.0)
    p_top.add_argument("--export-csv", type=Path)
    p_top.add_argument("--export-jsonl", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "enroll":
        config = enroll(args.server, args.token, args.config, ca_file=args.ca_file)
        print(f"enrolled as {config['name']} (node {config['node_id']}); config in {args.config}")
    elif args.command == "run":
        agent = Agent(
            load_config(args.config),
            interval=args.interval,
            allow_actions=args.allow_actions,
            max_backoff=args.max_backoff,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            agent.run_forever()
        except KeyboardInterrupt:
            pass
    else:
        try:
            top(args.interval, export_csv=args.export_csv, export_jsonl=args.export_jsonl)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
