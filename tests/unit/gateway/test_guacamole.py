"""The Guacamole tunnel against a guacd protocol fake (guacd itself is not packaged
in Debian bookworm): parsing, the handshake's parameters and the relay."""

import queue
import socket
import threading
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from moorage.app import create_app
from moorage.config import Settings
from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.drivers.fake import FakeDriver
from moorage.gateway.guacamole import encode, parse
from moorage.models import Environment, Template, User, WorkspaceSession
from moorage.services.sessions import SECRET_CONTEXT


def test_encode_and_parse_round_trip_with_partial_input():
    text = encode("size", "1024", "768") + encode("", "ping", "123") + "5.mouse,2.10"
    instructions, rest = parse(text)
    assert instructions == [["size", "1024", "768"], ["", "ping", "123"]]
    assert rest == "5.mouse,2.10"
    assert parse("4.né√é;")[0] == [["né√é"]]  # lengths count characters, not bytes
    with pytest.raises(ValueError):
        parse("x.bad;")


class FakeGuacd(threading.Thread):
    """Speaks guacd's side of the handshake, then records what it receives."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connect_values: queue.Queue[list[str]] = queue.Queue()
        self.received: queue.Queue[str] = queue.Queue()

    def run(self) -> None:
        buffer = ""
        pending: list[list[str]] = []

        def instruction() -> list[str]:
            # One recv may carry several instructions: keep them all, in order.
            nonlocal buffer
            while not pending:
                found, buffer = parse(buffer)
                pending.extend(found)
                if pending:
                    break
                data = connection.recv(4096).decode()
                if not data:
                    return []
                buffer += data
            return pending.pop(0)

        connection, _ = self.server.accept()
        assert instruction() == ["select", "rdp"]
        connection.sendall(
            encode(
                "args",
                "VERSION_1_5_0",
                "hostname",
                "port",
                "username",
                "password",
                "ignore-cert",
                "color-depth",
            ).encode()
        )
        while (got := instruction())[:1] != ["connect"]:
            if not got:
                return  # the tunnel hung up during the handshake
        self.connect_values.put(got[1:])
        connection.sendall((encode("ready", "$conn-1") + encode("sync", "100")).encode())
        while data := connection.recv(4096):
            self.received.put(data.decode())


def test_the_tunnel_hands_the_account_to_guacd_and_relays_both_ways(tmp_path):
    guacd = FakeGuacd()
    guacd.start()
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db",
        admin_password=SecretStr("guac-test-password"),
        reconcile_interval_seconds=3600,
        guacd_address=f"127.0.0.1:{guacd.port}",
    )
    app = create_app(settings, driver_factory=lambda env: FakeDriver(), announce=lambda m: None)
    with TestClient(app, headers={"Origin": "http://testserver"}) as client:
        client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "guac-test-password"}
        )
        client.post(
            "/api/v1/templates",
            json={
                "name": "rdp",
                "display_name": "RDP",
                "kind": "rdp",
                "image": "moorage/rdp:latest",
            },
        )
        context = app.state.context

        async def insert() -> str:
            async with write_session(context.sessionmaker) as db:
                user = await db.scalar(select(User))
                template = await db.scalar(select(Template).where(Template.name == "rdp"))
                environment = await db.scalar(select(Environment))
                row = WorkspaceSession(
                    id=new_id(),
                    org_id=user.org_id,
                    user_id=user.id,
                    template_id=template.id,
                    environment_id=environment.id,
                    state="ready",
                    container_id="c",
                    expires_at=utcnow() + timedelta(hours=1),
                    ports={"3389": 45678},
                    account="student",
                    secret_sealed=context.keyring.seal("rdp-secret-1", SECRET_CONTEXT),
                )
                db.add(row)
            return row.id

        session_id = client.portal.call(insert)
        path = f"/api/v1/sessions/{session_id}/guacamole?width=800&height=600&dpi=96"
        with client.websocket_connect(path, subprotocols=["guacamole"]) as ws:
            uuid_instruction = parse(ws.receive_text())[0][0]
            assert uuid_instruction[0] == "" and len(uuid_instruction[1]) == 36
            assert ws.receive_text() == encode("sync", "100")
            ws.send_text(encode("", "ping", "1700000000000"))
            assert ws.receive_text() == encode("", "ping", "1700000000000")
            ws.send_text(encode("key", "65307", "1"))
            assert guacd.received.get(timeout=5) == encode("key", "65307", "1")
        assert guacd.connect_values.get(timeout=5) == [
            "VERSION_1_5_0",
            "127.0.0.1",
            "45678",
            "student",
            "rdp-secret-1",
            "true",
            "",
        ]

        context.settings.guacd_address = None
        with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4404
