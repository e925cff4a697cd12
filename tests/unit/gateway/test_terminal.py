"""The terminal gateway's protocol on the fake driver (a TTY that echoes)."""

import json
import time

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


def _app(tmp_path, driver):
    settings = Settings(
        data_dir=tmp_path,
        admin_password=SecretStr("gateway-test-pw"),
        reconcile_interval_seconds=3600,
    )
    return create_app(settings, driver_factory=lambda env: driver, announce=lambda m: None)


def _login(client):
    client.post("/api/v1/auth/login", json={"username": "admin", "password": "gateway-test-pw"})
    # On PostgreSQL and MariaDB the database outlives a test: end what earlier ones
    # left live, so the per-user session limit does not refuse this test's launch.
    for row in client.get("/api/v1/sessions?live=true").json():
        client.delete(f"/api/v1/sessions/{row['id']}")


def _wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_bytes_go_both_ways_and_resize_reaches_the_tty(tmp_path):
    driver = FakeDriver()
    with TestClient(_app(tmp_path, driver), headers={"Origin": "http://testserver"}) as client:
        _login(client)
        launched = client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session = launched.json()
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

        client.delete(f"/api/v1/sessions/{session['id']}")
        with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as ended:
            ws.receive_bytes()
        assert ended.value.code == 4409

        client.cookies.clear()
        with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as anon:
            ws.receive_bytes()
        assert anon.value.code == 4401


def test_a_reconnect_attaches_to_the_same_shell_and_replays_its_output(tmp_path):
    driver = FakeDriver()
    with TestClient(_app(tmp_path, driver), headers={"Origin": "http://testserver"}) as client:
        _login(client)
        launched = client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session = launched.json()
        path = f"/api/v1/sessions/{session['id']}/terminal"
        with client.websocket_connect(f"{path}?cols=90&rows=20&offset=0") as ws:
            hello = json.loads(ws.receive_text())
            assert hello == {"type": "attached", "shell": hello["shell"], "offset": 0}
            ws.send_bytes(b"export MOORAGE_T=42\r")
            assert ws.receive_bytes() == b"export MOORAGE_T=42\r"
        (terminal,) = driver.terminals
        assert not terminal.closed  # the shell outlives its websocket

        # A plain client gets the shell's recent output, then what follows.
        with client.websocket_connect(f"{path}?cols=100&rows=30") as ws:
            assert ws.receive_bytes() == b"export MOORAGE_T=42\r"
            ws.send_bytes(b"echo\r")
            assert ws.receive_bytes() == b"echo\r"
        assert len(driver.terminals) == 1 and terminal.sizes[-1] == (100, 30)

        # A resuming client that saw the first 20 bytes of this shell gets only the rest.
        resume = f"{path}?offset=20&shell={hello['shell']}"
        with client.websocket_connect(resume) as ws:
            assert json.loads(ws.receive_text())["offset"] == 20
            assert ws.receive_bytes() == b"echo\r"
        # One naming another shell is told where the replay starts (and clears its screen).
        with client.websocket_connect(f"{path}?offset=20&shell=elsewhere") as ws:
            assert json.loads(ws.receive_text()) == {
                "type": "attached",
                "shell": hello["shell"],
                "offset": 0,
            }
            assert ws.receive_bytes() == b"export MOORAGE_T=42\recho\r"


def test_two_clients_share_the_shell_and_the_session_end_closes_it(tmp_path):
    driver = FakeDriver()
    with TestClient(_app(tmp_path, driver), headers={"Origin": "http://testserver"}) as client:
        _login(client)
        launched = client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session = launched.json()
        path = f"/api/v1/sessions/{session['id']}/terminal"
        with (
            client.websocket_connect(f"{path}?cols=80&rows=24") as first,
            client.websocket_connect(f"{path}?cols=120&rows=40") as second,
        ):
            first.send_bytes(b"date\r")
            assert first.receive_bytes() == b"date\r"
            assert second.receive_bytes() == b"date\r"
            (terminal,) = driver.terminals
            assert terminal.sizes[-1] == (120, 40)  # the latest client's size

            client.delete(f"/api/v1/sessions/{session['id']}")
            for ws in (first, second):
                with pytest.raises(WebSocketDisconnect) as ended:
                    ws.receive_bytes()
                assert (ended.value.code, ended.value.reason) == (4409, "the session ended")
        _wait_until(lambda: terminal.closed)


def test_the_shell_exiting_closes_its_clients_and_the_next_one_gets_a_new_shell(tmp_path):
    driver = FakeDriver()
    with TestClient(_app(tmp_path, driver), headers={"Origin": "http://testserver"}) as client:
        _login(client)
        launched = client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session = launched.json()
        path = f"/api/v1/sessions/{session['id']}/terminal?offset=0"
        with client.websocket_connect(path) as ws:
            shell = json.loads(ws.receive_text())["shell"]
            client.portal.call(driver.terminals[0].close)  # the shell ends (``exit``)
            with pytest.raises(WebSocketDisconnect) as exited:
                ws.receive_bytes()
            assert exited.value.code == 1000
        with client.websocket_connect(path) as ws:
            assert json.loads(ws.receive_text())["shell"] != shell
        assert len(driver.terminals) == 2


def test_a_warm_terminal_comes_with_its_shell_opened_ahead(tmp_path):
    from moorage.reconciler.warm_pools import WarmPoolKeeper

    driver = FakeDriver()
    with TestClient(_app(tmp_path, driver), headers={"Origin": "http://testserver"}) as client:
        _login(client)
        warm = client.patch("/api/v1/templates/debian-shell", json={"warm": 3})
        assert warm.status_code == 200, warm.text
        context = client.app.state.context  # type: ignore[attr-defined]
        keeper = WarmPoolKeeper(
            context.sessionmaker, context.drivers, context.warm_pools, max_age_seconds=3600
        )
        client.portal.call(keeper.run)  # type: ignore[union-attr]
        assert len(driver.terminals) == 3  # one shell opened ahead per warm workspace
        for spare in driver.terminals:  # each shell's prompt, written before any claim
            client.portal.call(spare.write, b"prompt$ ")  # type: ignore[union-attr]
        spares = list(driver.terminals)

        first = client.post("/api/v1/sessions", json={"template": "debian-shell"}).json()
        path = f"/api/v1/sessions/{first['id']}/terminal?cols=90&rows=20"
        with client.websocket_connect(path) as ws:
            assert ws.receive_bytes() == b"prompt$ "  # at once: no new exec
            ws.send_bytes(b"ls\r")
            assert ws.receive_bytes() == b"ls\r"
        assert driver.terminals == spares  # no shell opened for the attachment
        # Opened at 80 × 24 ahead; the one taken is resized to the client's size.
        assert [t.sizes[0] for t in spares] == [(80, 24)] * 3
        assert [(90, 20) in t.sizes for t in spares].count(True) == 1

        # A session that ends before anyone attached closes its shell.
        second = client.post("/api/v1/sessions", json={"template": "debian-shell"}).json()
        assert client.delete(f"/api/v1/sessions/{second['id']}").status_code == 200
        _wait_until(lambda: sum(t.closed for t in spares) == 1)
        # A recycled warm workspace closes its shell too.
        assert client.patch("/api/v1/templates/debian-shell", json={"warm": 0}).status_code == 200
        client.portal.call(keeper.run)  # type: ignore[union-attr]
        _wait_until(lambda: sum(t.closed for t in spares) == 2)
        assert len(client.app.state.terminal_holds.spares) == 0  # type: ignore[attr-defined]
