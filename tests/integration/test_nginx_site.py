"""deploy/nginx/moorage.conf in front of a real `moorage serve` (MOORAGE_TRUSTED_PROXIES
=127.0.0.1): HTTPS, the terminal's websocket upgraded through nginx, and the
generated URLs and audit address those of the client, not of nginx."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.integration.nginx_site import nginx_in_front
from tests.live_server import ADMIN_PASSWORD, Server, free_port


@pytest.fixture
def nginx_site(tmp_path) -> Iterator[tuple[int, int, Path]]:
    """(HTTPS port, Moorage's port, certificate) of nginx running the shipped site with
    a self-signed certificate for localhost, on loopback ports."""
    https, backend = free_port(), free_port()
    with nginx_in_front(
        tmp_path / "nginx", "127.0.0.1", https, free_port(), backend, "localhost"
    ) as cert:
        yield https, backend, cert


@pytest.fixture
async def proxied_server(docker, tmp_path, nginx_site) -> AsyncIterator[tuple[str, Path]]:
    https, backend, cert = nginx_site
    server = Server(
        tmp_path / "data",
        f"sqlite+aiosqlite:///{tmp_path / 'data' / 'moorage.db'}",
        port=backend,
        extra_env={"MOORAGE_TRUSTED_PROXIES": "127.0.0.1"},
    )
    (tmp_path / "data").mkdir()
    server.start(timeout=120)
    yield f"https://localhost:{https}", cert
    server.stop()


async def test_through_nginx_urls_addresses_and_the_terminal_websocket(proxied_server):
    base, cert = proxied_server
    context = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(
        base_url=base,
        verify=context,
        # A forged address, which nginx replaces with the client's.
        headers={"Origin": base, "X-Forwarded-For": "203.0.113.9"},
        timeout=30,
    ) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        launched = await client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session = launched.json()
        try:
            assert session["urls"]["page"] == f"{base}/sessions/{session['id']}"
            assert session["urls"]["terminal"].startswith(f"wss://{base.removeprefix('https://')}/")
            cookie = f"moorage_login={client.cookies['moorage_login']}"
            async with websockets.connect(
                session["urls"]["terminal"],
                ssl=context,
                additional_headers={"Cookie": cookie, "Origin": base},
                max_size=None,
            ) as terminal:
                await terminal.send(b"echo via-$((6*7))-nginx\n")
                output = b""
                while b"via-42-nginx" not in output:
                    output += await asyncio.wait_for(terminal.recv(), 20)  # type: ignore[operator]
            events = (await client.get("/api/v1/audit")).json()
            launch = next(e for e in events if e["action"] == "session.launch")
            assert launch["source"] == "127.0.0.1"  # the client as nginx saw it, not forged
        finally:
            await client.delete(f"/api/v1/sessions/{session['id']}")
