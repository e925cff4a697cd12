"""The ``warm`` field: a number or a schedule ("30 between 08:45 and 12:00 on
weekdays"), its target at a given time, and clear 422s for a bad one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from moorage.schemas.warm import WarmSchedule, parse_days, stored_warm, warm_target

WEEKDAYS = {"count": 30, "from": "08:45", "to": "12:00", "days": "mon-fri", "outside": 2}
MONDAY = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY.replace(day=7 + day, hour=hour, minute=minute)


def test_a_weekday_window_keeps_its_count_inside_and_outside_elsewhere():
    stored = stored_warm(WarmSchedule.model_validate(WEEKDAYS))
    assert warm_target(stored, at(0, 8, 45)) == 30  # from is included
    assert warm_target(stored, at(4, 11, 59)) == 30  # a Friday
    assert warm_target(stored, at(0, 12, 0)) == 2  # to is excluded
    assert warm_target(stored, at(0, 8, 44)) == 2
    assert warm_target(stored, at(5, 10, 0)) == 2  # a Saturday


def test_a_plain_number_and_a_window_past_midnight_in_a_time_zone():
    assert warm_target(stored_warm(5), at(5, 3)) == 5
    assert stored_warm(0) is None and warm_target(None, MONDAY) == 0
    night = WarmSchedule.model_validate(
        {"count": 4, "from": "22:00", "to": "02:00", "days": "fri", "timezone": "Europe/Paris"}
    )
    assert night.target(at(4, 21, 30)) == 4  # 22:30 in Paris on Friday
    assert night.target(at(5, 0, 30)) == 4  # 01:30 on Saturday: Friday's window
    assert night.target(at(5, 1, 30)) == 0  # 02:30 on Saturday
    assert night.target(at(3, 21, 30)) == 0  # Thursday night


def test_day_lists_and_ranges():
    assert parse_days("mon-fri") == {0, 1, 2, 3, 4}
    assert parse_days("sat,sun") == {5, 6}
    assert parse_days("fri-mon") == {4, 5, 6, 0}
    assert parse_days("daily") == set(range(7))
    with pytest.raises(ValueError, match="funday"):
        parse_days("mon,funday")


@pytest.mark.parametrize(
    ("warm", "named"),
    [
        ({"count": 3, "from": "08:00"}, "both from and to"),
        ({"count": 3, "from": "8h", "to": "09:00"}, "from"),
        ({"count": 3, "from": "08:00", "to": "09:00", "days": "funday"}, "funday"),
        ({"count": 3, "from": "08:00", "to": "09:00", "timezone": "Mars/Olympus"}, "timezone"),
        ({"count": 3, "every": "day"}, "every"),
        (501, "warm"),
        (-1, "warm"),
    ],
)
async def test_a_bad_warm_field_is_a_422_naming_what_is_wrong(app, warm, named):
    response = await app.client.patch("/api/v1/templates/debian-shell", json={"warm": warm})
    assert response.status_code == 422, response.text
    assert named in response.text


async def test_patch_sets_a_number_or_a_schedule_and_get_gives_it_back(app):
    response = await app.client.patch("/api/v1/templates/debian-shell", json={"warm": 3})
    assert response.status_code == 200 and response.json()["warm"] == 3
    response = await app.client.patch("/api/v1/templates/debian-shell", json={"warm": WEEKDAYS})
    assert response.status_code == 200, response.text
    got = (await app.client.get("/api/v1/templates/debian-shell")).json()["warm"]
    assert got == {**WEEKDAYS, "timezone": "UTC"}
    assert (await app.client.get("/api/v1/templates/jupyter")).json()["warm"] == 0
