"""The API's view of a session asks the session's kind for what differs between kinds:
the browser URLs (``app``, ``desktop``) and the native-client connection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.datastructures import URL

from moorage.api.v1.sessions import rdp_file, session_public
from moorage.db.base import utcnow
from moorage.models.environment import Environment
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User
from moorage.services.sessions import SECRET_CONTEXT

OWNER = User(id="u1", org_id="o1", username="alice", role="member")
OTHER = User(id="u2", org_id="o1", username="bob", role="admin")


def session_of(app, kind: str, ports: dict[str, int] | None, state: str = "ready"):
    now = utcnow()
    return WorkspaceSession(
        id="s1",
        org_id="o1",
        user_id=OWNER.id,
        user=OWNER,
        state=state,
        template=Template(
            name=f"{kind}-lab", display_name=kind, kind=kind, max_duration_minutes=60
        ),
        environment=Environment(name="local"),
        created_at=now,
        starts_at=now,
        expires_at=now + timedelta(minutes=30),
        extensions=0,
        ports=ports,
        account="lab" if ports else None,
        secret_sealed=app.context.keyring.seal("pw-secret", SECRET_CONTEXT) if ports else None,
    )


BASE = URL("https://moorage.example/")


@pytest.mark.parametrize(
    ("kind", "app_url", "desktop"),
    [
        ("terminal", None, None),
        ("http", "https://moorage.example/s/s1/", None),
        ("vnc", None, "wss://moorage.example/api/v1/sessions/s1/vnc"),
    ],
)
async def test_browser_urls_come_from_the_kind(app, kind, app_url, desktop):
    view = session_public(session_of(app, kind, None), BASE, OWNER, app.context)
    assert (view.urls.app, view.urls.desktop) == (app_url, desktop)
    assert view.urls.terminal == "wss://moorage.example/api/v1/sessions/s1/terminal"
    assert view.connection is None


async def test_ssh_connection_from_the_kind_with_the_password_for_the_owner_only(app):
    host = app.context.settings.public_host
    session = session_of(app, "ssh", {"22": 40022})
    mine = session_public(session, BASE, OWNER, app.context).connection
    assert mine is not None
    assert (mine.host, mine.port, mine.username, mine.password) == (host, 40022, "lab", "pw-secret")
    assert mine.command == f"ssh -p 40022 lab@{host}"
    theirs = session_public(session, BASE, OTHER, app.context).connection
    assert theirs is not None and theirs.password is None
    ended = session_of(app, "ssh", {"22": 40022}, state="released")
    assert session_public(ended, BASE, OWNER, app.context).connection.password is None


async def test_rdp_connection_and_its_file(app):
    host = app.context.settings.public_host
    connection = session_public(
        session_of(app, "rdp", {"3389": 43389}), BASE, OWNER, app.context
    ).connection
    assert connection is not None
    assert connection.command == f"xfreerdp /v:{host}:43389 /u:lab"
    assert f"full address:s:{host}:43389\r\n" in rdp_file(connection)
