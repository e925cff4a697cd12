"""Quantities as people read them: byte sizes and rates in SI units, times in UTC.

The browser shows times in its own time zone (``moorage.js`` rewrites every
``<time datetime>``); the text written here is what a page shows before that
script runs, and what a ``title`` (hover) keeps: the UTC value.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["BYTE_RATE_METRICS", "readable_bytes", "readable_metric", "utc_text"]

BYTE_RATE_METRICS = frozenset({"disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps"})
"""Fleet metrics measured in bytes per second."""

_PREFIXES = ("B", "KB", "MB", "GB", "TB", "PB")


def readable_bytes(value: float) -> str:
    """``value`` bytes in SI units (1 KB = 1000 B, as network and disk rates are
    counted): ``"512 B"``, ``"9.5 MB"``, ``"10 MB"``. One decimal below 10."""
    size, index = abs(float(value)), 0
    while size >= 1000 and index < len(_PREFIXES) - 1:
        size /= 1000
        index += 1
    sign = "-" if value < 0 else ""
    digits = f"{size:.1f}".removesuffix(".0") if size < 10 and index else f"{size:.0f}"
    return f"{sign}{digits} {_PREFIXES[index]}"


def readable_metric(metric: str, value: float) -> str:
    """A fleet metric's value with its unit: ``"10 MB/s"`` for a byte rate,
    ``"93.5 %"`` for a percentage, the number otherwise."""
    if metric in BYTE_RATE_METRICS:
        return f"{readable_bytes(value)}/s"
    if metric.endswith("_percent"):
        return f"{value:.1f} %"
    return f"{value:g}"


def utc_text(moment: datetime) -> str:
    """``moment`` as ``"2025-05-14 12:02:07 UTC"`` (a naive value is taken as UTC,
    as SQLite returns them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
