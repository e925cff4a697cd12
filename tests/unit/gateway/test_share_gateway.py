"""Share grants at the gateway, on the fake driver (a TTY that echoes what reaches it):
an observer sees the shell but nothing it sends reaches it; a peer types; revoking,
disconnecting and expiry close the connections opened with a link at once."""

import asyncio
import json
from datetime import timedelta

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from moorage.app import create_app
from moorage.config import Settings
from moorage.drivers.fake import FakeDriver
from moorage.security.tokens import LOGIN_COOKIE_NAME
from moorage.services.shares import grant_cookie_name
from tests.databases import fresh_database

PASSWORD = "share-gateway-pw"
ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def database(tmp_path):
    """A database of the test's own (SQLite, or a new one on the server under test)."""
    loop = asyncio.new_event_loop()
    fresh = fresh_database(tmp_path)
    url = loop.run_until_complete(fresh.__aenter__())
    yield url
    loop.run_until_complete(fresh.__aexit__(None, None, None))
    loop.close()


@pytest.fixture
def world(tmp_path, database):
    driver = FakeDriver()
    settings = Settings(
        data_dir=tmp_path,
        database_url=database,
        admin_password=SecretStr(PASSWORD),
        reconcile_interval_seconds=3600,
    )
    app = create_app(settings, driver_factory=lambda env: driver, announce=lambda m: None)
    with TestClient(app, headers=ORIGIN) as client:
        client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        owner = {"Authorization": f"Bearer {client.cookies[LOGIN_COOKIE_NAME]}"}
        launched = client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        yield client, driver, owner, launched.json()["id"], app


def _share(client, owner, session_id, role, **body):
    made = client.post(
        f"/api/v1/sessions/{session_id}/shares", json={"role": role, **body}, headers=owner
    )
    assert made.status_code == 201, made.text
    return made.json()


def _open_as_guest(client, url, name):
    """Open the link in a browser with no login: its grant cookie, for websocket headers."""
    client.cookies.clear()
    path = url.split("testserver", 1)[1]
    opened = client.post(path, data={"display_name": name}, follow_redirects=False)
    assert opened.status_code == 303, opened.text
    return opened.headers["location"], opened.cookies


def test_an_observer_sees_the_shell_and_nothing_it_sends_reaches_it(world):
    client, driver, owner, session_id, _ = world
    link = _share(client, owner, session_id, "observer")
    location, cookies = _open_as_guest(client, link["url"], "Olga")
    assert location == f"/shared/{session_id}"
    grant = {"cookie": f"{grant_cookie_name(session_id)}={cookies[grant_cookie_name(session_id)]}"}
    client.cookies.clear()
    path = f"/api/v1/sessions/{session_id}/terminal"
    with client.websocket_connect(f"{path}?cols=100&rows=30", headers=owner) as mine:
        with client.websocket_connect(f"{path}?cols=7&rows=3", headers=grant) as theirs:
            theirs.send_bytes(b"echo observer-marker\r")
            theirs.send_text(json.dumps({"type": "resize", "cols": 11, "rows": 5}))
            mine.send_bytes(b"echo owner\r")
            # The fake TTY echoes what reaches it: the owner's line is the first output.
            assert mine.receive_bytes() == b"echo owner\r"
            assert theirs.receive_bytes() == b"echo owner\r"  # the observer sees it
            (terminal,) = driver.terminals
            assert terminal.sizes[-1] == (100, 30)
            assert (7, 3) not in terminal.sizes and (11, 5) not in terminal.sizes
            connected = client.get(f"/api/v1/sessions/{session_id}/connections", headers=owner)
            assert sorted((c["who"], c["role"], c["guest"]) for c in connected.json()) == [
                ("Olga", "observer", True),
                ("admin", "owner", False),
            ]
        mine.send_bytes(b"x")
        assert mine.receive_bytes() == b"x"  # nothing of the observer's was queued either


def test_a_peer_types_and_revoking_closes_every_connection_of_the_link(world):
    client, _driver, owner, session_id, _ = world
    peer = _share(client, owner, session_id, "peer")
    observer = _share(client, owner, session_id, "observer")
    _, peer_cookies = _open_as_guest(client, peer["url"], "Pia")
    _, observer_cookies = _open_as_guest(client, observer["url"], "Otto")
    name = grant_cookie_name(session_id)
    client.cookies.clear()
    path = f"/api/v1/sessions/{session_id}/terminal"
    as_peer = {"cookie": f"{name}={peer_cookies[name]}"}
    as_observer = {"cookie": f"{name}={observer_cookies[name]}"}
    with (
        client.websocket_connect(path, headers=as_peer) as first,
        client.websocket_connect(path, headers=as_peer) as second,
        client.websocket_connect(path, headers=as_observer) as watching,
    ):
        first.send_bytes(b"echo peer\r")
        assert first.receive_bytes() == b"echo peer\r"
        assert watching.receive_bytes() == b"echo peer\r"
        assert second.receive_bytes() == b"echo peer\r"
        revoked = client.delete(f"/api/v1/sessions/{session_id}/shares/{peer['id']}", headers=owner)
        assert revoked.status_code == 204
        for ws in (first, second):
            with pytest.raises(WebSocketDisconnect) as closed:
                while True:
                    ws.receive_bytes()
            assert closed.value.code == 4410
        # The observer's link still holds.
        listed = client.get(f"/api/v1/sessions/{session_id}/connections", headers=owner).json()
        assert [(c["who"], c["role"]) for c in listed] == [("Otto", "observer")]
    # A revoked grant opens nothing more, not even a new websocket.
    with client.websocket_connect(path, headers=as_peer) as again:
        with pytest.raises(WebSocketDisconnect) as closed:
            again.receive_bytes()
        assert closed.value.code == 4410
    assert client.get(f"/shared/{session_id}", headers=as_peer).status_code == 410
    assert client.get(f"/shared/{session_id}", headers=as_observer).status_code == 200


def test_the_owner_disconnects_a_guest_who_cannot_come_back_with_that_grant(world):
    client, _driver, owner, session_id, _ = world
    link = _share(client, owner, session_id, "peer")
    _, cookies = _open_as_guest(client, link["url"], "Pat")
    name = grant_cookie_name(session_id)
    client.cookies.clear()
    grant = {"cookie": f"{name}={cookies[name]}"}
    path = f"/api/v1/sessions/{session_id}/terminal"
    with client.websocket_connect(path, headers=grant) as ws:
        ws.send_bytes(b"hi\r")
        assert ws.receive_bytes() == b"hi\r"
        (who,) = client.get(f"/api/v1/sessions/{session_id}/connections", headers=owner).json()
        kicked = client.delete(
            f"/api/v1/sessions/{session_id}/connections/{who['id']}", headers=owner
        )
        assert kicked.status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
        assert closed.value.code == 4408
    with client.websocket_connect(path, headers=grant) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
        assert closed.value.code == 4410


def test_an_expiring_link_closes_its_open_websocket(world):
    client, _driver, owner, session_id, app = world
    link = _share(client, owner, session_id, "observer", minutes=1)
    _, cookies = _open_as_guest(client, link["url"], "Eve")
    name = grant_cookie_name(session_id)
    client.cookies.clear()
    grant = {"cookie": f"{name}={cookies[name]}"}
    shares = app.state.context.shares
    real_clock = shares.clock
    with client.websocket_connect(f"/api/v1/sessions/{session_id}/terminal", headers=grant) as ws:
        # Time passes the link's expiry: the watchdog closes the socket on its next look.
        shares.clock = lambda: real_clock() + timedelta(minutes=2)
        shares.connections._clock = shares.clock
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_bytes()
        assert closed.value.code == 4410


def test_a_grant_opens_only_its_own_session(world):
    client, _driver, owner, session_id, _ = world
    other = client.post("/api/v1/sessions", json={"template": "debian-shell"}, headers=owner)
    if other.status_code == 429:
        pytest.skip("one live session per user and template here")
    other_id = other.json()["id"]
    link = _share(client, owner, session_id, "peer")
    _, cookies = _open_as_guest(client, link["url"], "Mallory")
    value = cookies[grant_cookie_name(session_id)]
    client.cookies.clear()
    # The same sealed grant under the other session's cookie name opens nothing.
    forged = {"cookie": f"{grant_cookie_name(other_id)}={value}"}
    with client.websocket_connect(f"/api/v1/sessions/{other_id}/terminal", headers=forged) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
        assert closed.value.code == 4404
    # Nor does it reach the API: a grant is no login.
    granted = {"cookie": f"{grant_cookie_name(session_id)}={value}"}
    assert client.get(f"/api/v1/sessions/{session_id}", headers=granted).status_code == 401
    assert client.get(f"/api/v1/sessions/{session_id}/shares", headers=granted).status_code == 401


def test_a_grant_websocket_from_another_site_is_refused(world):
    client, _driver, owner, session_id, _ = world
    link = _share(client, owner, session_id, "peer")
    _, cookies = _open_as_guest(client, link["url"], "Xavier")
    name = grant_cookie_name(session_id)
    client.cookies.clear()
    headers = {"cookie": f"{name}={cookies[name]}", "origin": "http://evil.example"}
    path = f"/api/v1/sessions/{session_id}/terminal"
    with client.websocket_connect(path, headers=headers) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_bytes()
        assert closed.value.code == 4403
