"""The rules of an image update policy that need no engine: semver ranges over tags,
maintenance windows and schedules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from moorage.schemas.image_update import ImageUpdatePolicyBody
from moorage.services.docker.update_rules import in_window, newest_in_range, next_check, tag_version

TAGS = ["latest", "1.3.9", "1.4", "v1.4.2", "1.4.10", "1.5.0", "2.0.0", "2.3.1", "3.0.0-rc.1", "x"]


@pytest.mark.parametrize(
    ("current", "semver_range", "expected"),
    [
        ("1.4", "~1.4", "1.4.10"),  # numeric, not string, order: 1.4.10 > 1.4.2
        ("1.4.10", "~1.4", None),  # nothing newer inside the range
        ("1.4.2", "^1", "1.5.0"),
        ("2.0.0", "^2", "2.3.1"),
        ("2.3.1", ">=2 <4", None),  # 3.0.0-rc.1 is a pre-release: left out
        ("latest", "^2", "2.3.1"),  # a current tag without a version: the newest in range
    ],
)
def test_newest_tag_inside_a_semver_range(current, semver_range, expected):
    assert newest_in_range(TAGS, current, semver_range) == expected


def test_tags_name_versions_with_or_without_v_and_missing_parts():
    assert str(tag_version("v1.4.2")) == "1.4.2"
    assert str(tag_version("1.4")) == "1.4.0"
    assert tag_version("latest") is None and tag_version("bookworm-slim") is None


def test_maintenance_window_opens_on_its_cron_and_lasts_its_minutes():
    window = "0 3 * * *"  # 03:00 UTC every day, for 60 minutes
    assert in_window(window, 60, datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    assert in_window(window, 60, datetime(2026, 1, 5, 3, 59, tzinfo=UTC))
    assert not in_window(window, 60, datetime(2026, 1, 5, 4, 0, tzinfo=UTC))
    assert not in_window(window, 60, datetime(2026, 1, 5, 2, 59, tzinfo=UTC))
    assert in_window(None, None, datetime(2026, 1, 5, 12, 0, tzinfo=UTC))


def test_next_check_is_the_next_firing_of_the_schedule():
    now = datetime(2026, 1, 5, 10, 17, tzinfo=UTC)
    assert next_check("*/30 * * * *", now) == datetime(2026, 1, 5, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schedule": "every hour"}, "schedule"),
        ({"schedule": "* * * * * *"}, "schedule"),  # six fields: seconds are not cron
        ({"window_schedule": "0 3 * * *"}, "window_minutes"),
        ({"semver_range": "~~1"}, "semver_range"),
        ({"policy": "yolo"}, "policy"),
        ({"health_timeout_seconds": 1}, "health_timeout_seconds"),
    ],
)
def test_a_bad_policy_is_refused_naming_what_is_wrong(body, field):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        ImageUpdatePolicyBody.model_validate(body)


def test_a_policy_defaults_to_notify_hourly_without_window():
    body = ImageUpdatePolicyBody.model_validate({})
    assert (body.policy, body.schedule, body.window_schedule) == ("notify", "0 * * * *", None)
