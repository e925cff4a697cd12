"""The local command-line mode (``moorage top``): this machine's metrics every interval,
printed and optionally appended to CSV and JSONL files."""

from __future__ import annotations

import csv
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

from moorage.agent.collector import Collector

__all__ = ["top"]

TOP_FIELDS = [
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


def top(
    interval: float,
    *,
    export_csv: Path | None = None,
    export_jsonl: Path | None = None,
    count: int | None = None,
    out: Any = sys.stdout,
) -> None:
    """Print this machine's metrics every ``interval`` seconds (``count`` times, or until
    interrupted), appending each sample (the columns of :data:`TOP_FIELDS`; percents,
    bytes per second) to CSV and/or JSONL files."""
    collector = Collector()
    writer = None
    csv_handle = open(export_csv, "a", newline="") if export_csv else None
    jsonl_handle = open(export_jsonl, "a") if export_jsonl else None
    if csv_handle is not None:
        writer = csv.DictWriter(csv_handle, fieldnames=TOP_FIELDS, extrasaction="ignore")
        if csv_handle.tell() == 0:
            writer.writeheader()
    try:
        for n in itertools.count() if count is None else range(count):
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
