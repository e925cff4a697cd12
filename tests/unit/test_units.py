"""Byte quantities and rates read in SI units, and UTC times in one format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from moorage.units import readable_bytes, readable_metric, utc_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (9_500_000, "9.5 MB"),
        (10_000_000, "10 MB"),
        (123_456_789, "123 MB"),
        (2.5e12, "2.5 TB"),
        (-1500, "-1.5 KB"),
    ],
)
def test_bytes_read_in_si_units(value, text):
    assert readable_bytes(value) == text


def test_a_byte_rate_metric_reads_per_second_and_others_keep_their_unit():
    assert readable_metric("net_rx_bps", 10_000_000) == "10 MB/s"
    assert readable_metric("disk_write_bps", 512) == "512 B/s"
    assert readable_metric("cpu_percent", 93.46) == "93.5 %"
    assert readable_metric("load1", 2.5) == "2.5"


def test_utc_text_takes_naive_values_as_utc_and_converts_others():
    assert utc_text(datetime(2025, 5, 14, 12, 2, 7)) == "2025-05-14 12:02:07 UTC"
    paris = timezone(timedelta(hours=2))
    assert utc_text(datetime(2025, 5, 14, 14, 2, 7, tzinfo=paris)) == "2025-05-14 12:02:07 UTC"
    assert utc_text(datetime(2025, 5, 14, 12, 2, 7, tzinfo=UTC)) == "2025-05-14 12:02:07 UTC"
