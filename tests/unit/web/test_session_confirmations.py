"""Confirmation texts name whose workspace a container is and the time it still had."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User
from moorage.web.session_confirmations import ending_in, workspace_confirmation

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_time_left_reads_in_minutes_rounded_up_then_hours():
    assert ending_in(NOW + timedelta(minutes=41, seconds=10), NOW) == "ending in 42 min"
    assert ending_in(NOW + timedelta(minutes=65), NOW) == "ending in 1 h 05 min"
    assert ending_in(NOW + timedelta(seconds=20), NOW) == "ending in less than a minute"
    assert ending_in(NOW - timedelta(seconds=1), NOW) == "already past its end"


def session(state: str) -> WorkspaceSession:
    return WorkspaceSession(
        id="0123456789abcdef",
        state=state,
        expires_at=datetime.now(UTC) + timedelta(minutes=41, seconds=30),
        user=User(username="student"),
        template=Template(display_name="Debian shell"),
    )


def test_a_workspace_containers_confirmation_names_owner_session_and_time_left():
    container = {"name": "moorage-0123", "labels": {"moorage.session": "0123456789abcdef"}}
    assert workspace_confirmation("remove", container, session("ready")) == (
        "Remove the live workspace of student (session 01234567, Debian shell), ending in "
        "42 min? The container and everything in it are deleted; the session ends."
    )
    assert workspace_confirmation("stop", container, session("released")) == (
        "Stop the workspace of student's released session 01234567?"
    )
    labelled = {**container, "labels": {**container["labels"], "moorage.user": "bob"}}
    assert workspace_confirmation("restart", labelled, None).startswith(
        "Restart moorage-0123, a Moorage workspace of bob (session 01234567, unknown to this "
        "Moorage)?"
    )


def test_any_other_container_keeps_a_plain_question():
    assert workspace_confirmation("remove", {"name": "web", "labels": {}}, None) == (
        "Remove web? The container and its writable layer are deleted."
    )
    assert workspace_confirmation("stop", {"name": "web"}, None) == "Stop web?"
