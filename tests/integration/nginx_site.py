"""Debian's nginx running the shipped site (``deploy/nginx/moorage.conf``) in front of a
test's ``moorage serve``, with a self-signed certificate made by openssl: the README's
reverse proxy, for tests that go through it (HTTPS, websocket upgrades)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["SITE", "nginx_in_front"]

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "moorage.conf"


def _certificate(folder: Path, host: str) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    san = f"IP:{host}" if host[0].isdigit() else f"DNS:{host}"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", f"/CN={host}", "-addext", f"subjectAltName={san}"]
    subprocess.run(
        ["openssl", *request, *names, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def nginx_in_front(
    folder: Path, listen: str, https_port: int, http_port: int, backend_port: int, host: str
) -> Iterator[Path]:
    """nginx serving the shipped site on ``listen:https_port`` (TLS, a certificate for
    ``host``, a DNS name or an IP address) and ``listen:http_port``, proxying to
    Moorage on ``127.0.0.1:backend_port``; yields the certificate (the CA to trust).
    Stopped (SIGTERM: at once, open websockets included) afterwards."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed; run `make test`")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = _certificate(folder, host)
    site = (
        SITE.read_text()
        .replace("/etc/ssl/moorage/fullchain.pem", str(cert))
        .replace("/etc/ssl/moorage/privkey.pem", str(key))
        .replace("listen 443 ssl http2;", f"listen {listen}:{https_port} ssl http2;")
        .replace("listen [::]:443 ssl http2;", "")
        .replace("listen 80;", f"listen {listen}:{http_port};")
        .replace("listen [::]:80;", "")
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{backend_port};")
        .replace("server_name moorage.example.org;", f"server_name {host};")
    )
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {folder};\n"
        f"proxy_temp_path {folder};\ninclude {folder}/site.conf;\n}}\n"
    )
    process = subprocess.Popen(
        [nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder), "-g", "daemon off;"]
    )
    try:
        yield cert
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
