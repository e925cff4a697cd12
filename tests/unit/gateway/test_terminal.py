"""The terminal gateway's protocol on the fake driver (a TTY that echoes)."""

import json

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from moorage.app import create_app
from moorage.config import Settings
from moorage.drivers.fake import FakeDriver
from moorage.gateway.terminal import parse_control


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"type": "resize", "cols": 120, "rows": 40}', (120, 40)),
        ('{"type": "resize", "cols": 0, "rows": 40}', None),
        ('{"type": "resize", "cols": 1001, "rows": 40}', None),
        ('{"type": "resize", "cols": true, "rows": 40}', None),
        ('{"type": "resize", "cols": "80", "rows": 40}', None),
        ('{"type": "paste", "data": "x"}', None),
        ("not json", None),
        ("[1, 2]", None),
    ],
)
def test_parse_control_accepts_only_valid_resize_messages(text, expected):
    assert parse_control(text) == expected


def test_bytes_go_both_ways_and_resize_reaches_the_tty(tmp_path):
    driver = FakeDriver()
    settings = Settings(
        data_dir=tmp_path,
        admin_password=SecretStr("gateway-test-pw"),
        reconcile_interval_seconds=3600,
    )
    app = create_app(settings, driver_factory=lambda env: driver, announce=lambda m: None)
    with TestClient(app, headers={"Origin": "http://testserver"}) as client:
        client.post("/api/v1/auth/login", json={"username": "admin", "password": "gateway-test-pw"})
        session = client.post("/api/v1/sessions", json={"template": "debian-shell"}).json()
        path = f"/api/v1/sessions/{session['id']}/terminal?cols=90&rows=20"
        with client.websocket_connect(path) as ws:
            ws.send_bytes(b"ls\r")
            assert ws.receive_bytes() == b"ls\r"
            ws.send_text(json.dumps({"type": "resize", "cols": 132, "rows": 43}))
            ws.send_text("garbage is ignored")
            ws.send_bytes(b"x")
            assert ws.receive_bytes() == b"x"
        (terminal,) = driver.terminals
        assert terminal.sizes[0] == (90, 20) and (132, 43) in terminal.sizes
        assert terminal.closed

        client.delete(f"/api/v1/sessions/{session['id']}")
        with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as ended:
            ws.receive_bytes()
        assert ended.value.code == 4409

        client.cookies.clear()
        with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as anon:
            ws.receive_bytes()
        assert anon.value.code == 4401
