"""deploy/nginx/moorage.conf in front of a real `moorage serve` (MOORAGE_TRUSTED_PROXIES
=127.0.0.1): HTTPS, the terminal's websocket upgraded through nginx, and the
generated URLs and audit address those of the client, not of nginx."""

from __future__ import annotations

import asyncio
import shutil
import signal
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.live_server import ADMIN_PASSWORD, Server, free_port

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "moorage.conf"


@pytest.fixture
def nginx_site(tmp_path) -> Iterator[tuple[int, int, Path]]:
    """(HTTPS port, Moorage's port, certificate) of nginx running the shipped site with
    a self-signed certificate for localhost, on loopback ports."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed; run `make test`")
    https, backend = free_port(), free_port()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj"]
    names = ["/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
    subprocess.run(
        ["openssl", *request, *names, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    site = (
        SITE.read_text()
        .replace("/etc/ssl/moorage/fullchain.pem", str(cert))
        .replace("/etc/ssl/moorage/privkey.pem", str(key))
        .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
        .replace("listen [::]:443 ssl http2;", "")
        .replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
        .replace("listen [::]:80;", "")
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{backend};")
        .replace("server_name moorage.example.org;", "server_name localhost;")
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path};\n"
        f"proxy_temp_path {tmp_path};\ninclude {tmp_path}/site.conf;\n}}\n"
    )
    process = subprocess.Popen(
        [nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", "daemon off;"]
    )
    yield https, backend, cert
    process.send_signal(signal.SIGQUIT)
    process.wait(timeout=10)


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
