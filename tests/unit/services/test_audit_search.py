"""Reading the audit log back: times typed in filters, and CSV cells a spreadsheet
would run as formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from moorage.errors import InvalidInput
from moorage.models.audit import AuditEvent
from moorage.services.audit_search import CSV_COLUMNS, AuditFilter, csv_rows, parse_time


def test_a_time_without_offset_is_read_in_the_browsers_zone_else_utc():
    assert parse_time("2025-03-01T14:05", field="from") == datetime(2025, 3, 1, 14, 5, tzinfo=UTC)
    paris = parse_time("2025-07-01T14:05", field="from", tz="Europe/Paris")
    assert paris == datetime(2025, 7, 1, 12, 5, tzinfo=UTC)  # summer time, UTC+2
    offset = parse_time("2025-03-01T14:05:00+01:00", field="from", tz="Asia/Tokyo")
    assert offset == datetime(2025, 3, 1, 13, 5, tzinfo=UTC)
    assert parse_time("2025-03-01T14:05:00Z", field="to") == datetime(2025, 3, 1, 14, 5, tzinfo=UTC)
    assert parse_time("  ", field="from") is None


def test_a_bare_date_is_the_start_of_the_day_or_with_to_its_end():
    where = AuditFilter.parse(since="2025-03-01", until="2025-03-01")
    assert where.since == datetime(2025, 3, 1, tzinfo=UTC)
    assert where.until is not None and where.until.date() == where.since.date()
    assert where.until.hour == 23 and where.until.minute == 59


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"since": "yesterday"}, "from"),
        ({"until": "2025-13-01"}, "to"),
        ({"since": "2025-03-01", "tz": "Mars/Olympus"}, "tz"),
        ({"since": "2025-03-02", "until": "2025-03-01"}, "from"),
        ({"since": "0001-01-01T00:00", "tz": "Asia/Tokyo"}, "from"),
        ({"username": "ad\x00min"}, "username"),
    ],
)
def test_a_bad_filter_names_its_field(kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        AuditFilter.parse(**kwargs)
    assert caught.value.details["field"] == field


def test_csv_has_a_header_utc_times_and_defuses_formulas():
    event = AuditEvent(
        at=datetime(2025, 3, 1, 14, 5, 9, tzinfo=UTC),
        username='=HYPERLINK("http://x")',
        action="user.sign_in_failed",
        object_type="user",
        object_id="-2+3",
        environment=None,
        source="127.0.0.1",
        detail='wrong password, "quoted"',
    )
    text = "".join(csv_rows([event]))
    assert text.endswith("\r\n")
    header, row = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == CSV_COLUMNS
    assert row == [
        "2025-03-01T14:05:09Z",
        '\'=HYPERLINK("http://x")',
        "user.sign_in_failed",
        "user",
        "'-2+3",
        "",
        "127.0.0.1",
        'wrong password, "quoted"',
    ]
