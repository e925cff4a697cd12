"""The audit log for admins: the page and ``GET /api/v1/audit`` (JSON and CSV) filter
by user, action, object and time the same way; the page goes 100 events a page."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from moorage.db.engine import write_session
from moorage.models.audit import AuditEvent
from moorage.services.users import find_user

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def log(app):
    """Five known events at T0 + 0..4 hours (besides the admin's own sign-in now)."""
    rows = [
        ("alice", "session.launch", "session", "s-1"),
        ("alice", "session.end", "session", "s-1"),
        ("bob", "session.launch", "session", "s-2"),
        ("bob", "template.update", "template", "debian-shell"),
        ("mallory", "user.sign_in_failed", "user", "mallory"),
    ]
    async with write_session(app.context.sessionmaker) as db:
        org_id = (await find_user(db, "admin")).org_id
        for hours, (username, action, object_type, object_id) in enumerate(rows):
            db.add(
                AuditEvent(
                    org_id=org_id,
                    at=T0 + timedelta(hours=hours),
                    username=username,
                    action=action,
                    object_type=object_type,
                    object_id=object_id,
                    source="10.0.0.9",
                    detail="=cmd|' /C calc'!A0" if username == "mallory" else None,
                )
            )
    return app


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)"', page)


async def test_the_api_filters_by_user_action_object_and_time(log):
    async def actions(**params) -> list[str]:
        answer = await log.client.get("/api/v1/audit", params=params)
        assert answer.status_code == 200, answer.text
        return [e["action"] for e in answer.json()]

    assert await actions(username="alice") == ["session.end", "session.launch"]
    assert await actions(action="session.", username="bob") == ["session.launch"]
    assert await actions(object_type="session", object_id="s-1") == [
        "session.end",
        "session.launch",
    ]
    # From T0+1h to T0+3h, typed in Paris time (UTC+1 in March), both ends included.
    assert await actions(
        **{"from": "2025-03-01T14:00", "to": "2025-03-01T16:00"}, tz="Europe/Paris"
    ) == [
        "template.update",
        "session.launch",
        "session.end",
    ]
    assert await actions(**{"from": "2025-03-02"}) == ["user.sign_in"]
    bad = await log.client.get("/api/v1/audit", params={"to": "soon"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "to"
    over = await log.client.get("/api/v1/audit", params={"limit": 5000})
    assert over.status_code == 422 and over.json()["error"]["field"] == "limit"


async def test_the_csv_export_holds_the_filtered_events_with_formulas_defused(log):
    answer = await log.client.get(
        "/api/v1/audit", params={"format": "csv", "action": "user.sign_in_failed"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(answer.text)))
    assert table == [
        {
            "at": "2025-03-01T16:00:00Z",
            "username": "mallory",
            "action": "user.sign_in_failed",
            "object_type": "user",
            "object_id": "mallory",
            "environment": "",
            "source": "10.0.0.9",
            "detail": "'=cmd|' /C calc'!A0",
        }
    ]
    everything = await log.client.get("/api/v1/audit", params={"format": "csv"})
    assert len(everything.text.strip().splitlines()) == 1 + 6


async def test_members_get_neither_the_page_nor_the_export(log, member):
    assert (await member.get("/admin/audit")).status_code == 403
    assert (await member.get("/api/v1/audit", params={"format": "csv"})).status_code == 403


async def test_the_page_filters_and_links_the_same_export(log):
    page = await log.client.get("/admin/audit", params={"username": "bob", "tz": "UTC"})
    assert page.status_code == 200
    assert rows_of(page.text) == ["template.update", "session.launch"]
    export = re.search(r'id="audit-csv" href="([^"]+)"|href="([^"]+)" id="audit-csv"', page.text)
    assert export is not None
    url = (export.group(1) or export.group(2)).replace("&amp;", "&")
    assert url == "/api/v1/audit?username=bob&tz=UTC&format=csv"
    csv_text = (await log.client.get(url)).text
    assert [r["action"] for r in csv.DictReader(io.StringIO(csv_text))] == rows_of(page.text)

    wrong = await log.client.get("/admin/audit", params={"from": "last week"})
    assert wrong.status_code == 422
    assert "from must be a date or time" in wrong.text


async def test_the_page_shows_100_events_a_page_with_older_and_newer_links(app):
    async with write_session(app.context.sessionmaker) as db:
        org_id = (await find_user(db, "admin")).org_id
        for i in range(130):
            db.add(
                AuditEvent(
                    org_id=org_id,
                    at=T0 + timedelta(seconds=i),
                    username="alice",
                    action=f"session.extend.{i:03d}",
                    object_type="session",
                    object_id="s-1",
                )
            )
    first = await app.client.get("/admin/audit", params={"username": "alice"})
    assert len(rows_of(first.text)) == 100
    assert rows_of(first.text)[0] == "session.extend.129"
    assert 'id="audit-newer"' not in first.text
    older = re.search(r'href="([^"]+)" id="audit-older"', first.text)
    assert older is not None
    second = await app.client.get(older.group(1).replace("&amp;", "&"))
    assert rows_of(second.text) == [f"session.extend.{i:03d}" for i in range(29, -1, -1)]
    assert 'id="audit-older"' not in second.text and 'id="audit-newer"' in second.text
