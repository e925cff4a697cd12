"""The gateway's tap: a recorded terminal session leaves an asciicast of what passed,
readable by its owner and admins only (audited); desktop client messages are sorted
into a person's (activity) and noVNC's own."""

import json
import struct

from pydantic import SecretStr
from starlette.testclient import TestClient

from moorage.app import create_app
from moorage.config import Settings
from moorage.drivers.fake import FakeDriver
from moorage.gateway.session_tap import RfbClientMessages
from tests.unit.gateway.test_terminal import _wait_until

PASSWORD = "tap-test-pw"


def _app(tmp_path, driver):
    settings = Settings(
        data_dir=tmp_path,
        # Its own database on every backend run: the test counts the org's recordings.
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'moorage.db'}",
        admin_password=SecretStr(PASSWORD),
        reconcile_interval_seconds=3600,
    )
    return create_app(settings, driver_factory=lambda env: driver, announce=lambda m: None)


def _guest(client: TestClient) -> TestClient:
    """Another person's client on ``client``'s event loop. A TestClient outside its
    ``with`` runs each request on a new loop, which would leave the held terminal's
    tasks (its reader, the recording's writer) on a loop that has stopped."""
    guest = TestClient(client.app, headers={"Origin": "http://testserver"})
    guest.portal = client.portal
    return guest


def test_a_recorded_terminal_is_written_as_asciicast_and_read_by_its_owner_only(tmp_path):
    driver = FakeDriver()
    with TestClient(_app(tmp_path, driver), headers={"Origin": "http://testserver"}) as admin:
        admin.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        for row in admin.get("/api/v1/sessions?live=true").json():
            admin.delete(f"/api/v1/sessions/{row['id']}")
        changed = admin.patch(
            "/api/v1/templates/debian-shell", json={"recording": True, "record_input": True}
        )
        assert changed.status_code == 200, changed.text
        for name in ("alice", "mallory"):
            made = admin.post(
                "/api/v1/users",
                json={"username": name, "password": f"{name}-pw-123", "role": "member"},
            )
            assert made.status_code == 201, made.text
        alice, mallory = _guest(admin), _guest(admin)
        alice.post("/api/v1/auth/login", json={"username": "alice", "password": "alice-pw-123"})
        mallory.post(
            "/api/v1/auth/login", json={"username": "mallory", "password": "mallory-pw-123"}
        )

        session = alice.post("/api/v1/sessions", json={"template": "debian-shell"}).json()
        assert session["recorded"] is True
        page = alice.get(f"/sessions/{session['id']}")
        assert 'id="recorded-badge"' in page.text
        with alice.websocket_connect(
            f"/api/v1/sessions/{session['id']}/terminal?cols=100&rows=30"
        ) as ws:
            ws.send_bytes("echo héllo-recording\r".encode())
            assert ws.receive_bytes() == "echo héllo-recording\r".encode()
        ended = alice.delete(f"/api/v1/sessions/{session['id']}").json()
        assert ended["end_reason"] == "owner"

        def finished():
            rows = alice.get(f"/api/v1/recordings?session={session['id']}").json()
            return rows and rows[0]["ended_at"] is not None

        _wait_until(finished, seconds=30)  # the writer flushes once a second; slow when loaded
        (recording,) = alice.get(f"/api/v1/recordings?session={session['id']}").json()
        assert recording["kind"] == "terminal" and recording["with_input"] is True

        cast = alice.get(recording["file"])
        assert cast.status_code == 200
        lines = cast.text.splitlines()
        header = json.loads(lines[0])
        assert header["version"] == 2 and (header["width"], header["height"]) == (100, 30)
        events = [json.loads(line) for line in lines[1:]]
        assert ["i", "echo héllo-recording\r"] in [e[1:] for e in events]
        assert "".join(e[2] for e in events if e[1] == "o") == "echo héllo-recording\r"
        assert all(isinstance(e[0], float) for e in events)

        # Another member: as if it did not exist, by list, id, file or search.
        assert mallory.get("/api/v1/recordings").json() == []
        assert mallory.get(f"/api/v1/recordings/{recording['id']}").status_code == 404
        assert mallory.get(recording["file"]).status_code == 404
        assert mallory.get(f"/recordings/{recording['id']}").status_code == 404
        assert mallory.get("/api/v1/recordings?q=recording").json() == []
        # The admin reads it and finds it by its text.
        found = admin.get("/api/v1/recordings?q=HÉLLO-rec&all=true").json()
        assert [r["id"] for r in found] == [recording["id"]]
        assert "héllo-recording" in found[0]["snippet"]
        assert (
            admin.get(recording["file"] + "?download=1")
            .headers["content-disposition"]
            .startswith("attachment")
        )
        player = admin.get(f"/recordings/{recording['id']}")
        assert player.status_code == 200 and "asciinema-player" in player.text
        assert "'wasm-unsafe-eval'" in player.headers["content-security-policy"]

        audit = admin.get(f"/api/v1/audit?action=recording.read&object_id={recording['id']}")
        readers = sorted(e["username"] for e in audit.json())
        assert readers == ["admin", "alice"]  # the player page reads through the file


def _pointer() -> bytes:
    return struct.pack(">BBHH", 5, 0, 10, 20)


def _update_request() -> bytes:
    return struct.pack(">BBHHHH", 3, 1, 0, 0, 800, 600)


def test_rfb_client_messages_count_a_person_not_novncs_update_requests():
    messages = RfbClientMessages(after_init=False)
    assert messages.feed(b"\x01") is False  # ClientInit
    encodings = struct.pack(">BxH", 2, 3) + struct.pack(">iii", 7, 0, -223)
    assert messages.feed(bytes(20 * [0]) + encodings) is False  # SetPixelFormat, SetEncodings
    assert messages.feed(_update_request() * 3) is False
    assert messages.feed(_update_request() + _pointer()) is True
    key = struct.pack(">BBxxI", 4, 1, 0x61)
    assert messages.feed(key[:3]) is True  # a key event still arriving
    assert messages.feed(key[3:]) is True
    assert messages.feed(_update_request()) is False
    text = b"pasted"
    assert messages.feed(struct.pack(">BxxxI", 6, len(text)) + text) is True
    assert messages.lost is False


def test_rfb_client_messages_count_everything_after_an_unknown_message():
    messages = RfbClientMessages(after_init=True)
    assert messages.feed(bytes([99, 1, 2])) is True
    assert messages.lost and messages.feed(_update_request()) is True
