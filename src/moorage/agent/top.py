"""The local command-line mode (``moorage top``): this machine's metrics every interval,
printed and optionally appended to CSV and JSONL files (the seed's ``--export-csv`` /
``--export-jsonl``). :mod:`moorage.agent.top_web` serves the same samples as a page."""

from __future__ import annotations

import csv
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from moorage.agent.collector import Collector

__all__ = ["TOP_FIELDS", "Exporter", "sample_row", "top"]

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


def sample_row(report: dict[str, Any]) -> dict[str, Any]:
    """One flat sample from a :class:`~moorage.agent.collector.Collector` report: the
    report's metrics plus ``collected_at`` (RFC 3339 UTC), ``uptime_seconds`` and
    ``disk_percent`` (the fullest disk, 0–100)."""
    return {
        **report["metrics"],
        "collected_at": report["collected_at"],
        "uptime_seconds": report["uptime_seconds"],
        "disk_percent": max(d["percent"] for d in report["disks"]),
    }


class Exporter:
    """Appends samples to a CSV file (the columns of :data:`TOP_FIELDS`, a header when
    the file is new) and/or a JSONL file (one sample per line), flushed each time.
    Missing parent directories are created. Use as a context manager or :meth:`close`.

    Raises:
        OSError: a file cannot be created or opened for appending.
    """

    def __init__(self, csv_path: Path | None = None, jsonl_path: Path | None = None) -> None:
        self._csv: TextIO | None = None
        self._jsonl: TextIO | None = None
        self._writer: Any = None
        try:
            if csv_path is not None:
                csv_path.parent.mkdir(parents=True, exist_ok=True)
                self._csv = open(csv_path, "a", newline="")
                self._writer = csv.DictWriter(
                    self._csv, fieldnames=TOP_FIELDS, extrasaction="ignore"
                )
                if self._csv.tell() == 0:
                    self._writer.writeheader()
            if jsonl_path is not None:
                jsonl_path.parent.mkdir(parents=True, exist_ok=True)
                self._jsonl = open(jsonl_path, "a")
        except OSError:
            self.close()
            raise

    def write(self, row: dict[str, Any]) -> None:
        """Append one sample (from :func:`sample_row`) to each file."""
        if self._csv is not None:
            self._writer.writerow(row)
            self._csv.flush()
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(row) + "\n")
            self._jsonl.flush()

    def close(self) -> None:
        for handle in (self._csv, self._jsonl):
            if handle is not None:
                handle.close()
        self._csv = self._jsonl = None

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    with Exporter(export_csv, export_jsonl) as exporter:
        for n in itertools.count() if count is None else range(count):
            if n:
                time.sleep(interval)
            row = sample_row(collector.collect())
            print(
                f"{row['collected_at'][:19]}  cpu {row['cpu_percent']:5.1f}%  "
                f"mem {row['memory_percent']:5.1f}%  disk {row['disk_percent']:5.1f}%  "
                f"load {row['load1']:.2f}  rx {row['net_rx_bps'] / 1024:8.1f} KiB/s  "
                f"tx {row['net_tx_bps'] / 1024:8.1f} KiB/s",
                file=out,
                flush=True,
            )
            exporter.write(row)
