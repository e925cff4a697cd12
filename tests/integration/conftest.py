"""Integration fixtures: the real Docker engine and a real ``moorage serve`` process.

Docker must answer on /var/run/docker.sock and ``moorage/terminal:latest``
must exist (``make test`` builds it). With ``CI=true`` their absence fails the
run; elsewhere these tests are skipped with the reason.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiodocker
import httpx
import pytest

from tests.databases import fresh_database

ADMIN_PASSWORD = "integration-admin-password"
IMAGE = "moorage/terminal:latest"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
async def docker() -> AsyncIterator[aiodocker.Docker]:
    """A client of the real Docker engine, for checking what Moorage did."""
    client = aiodocker.Docker(url="unix:///var/run/docker.sock")
    try:
        await client.version()
        await client.images.inspect(IMAGE)
    except Exception as exc:
        await client.close()
        _unavailable(f"Docker or {IMAGE} unavailable ({exc}); run `make test`")
    yield client
    await client.close()


async def session_containers(docker: aiodocker.Docker, data_label: str | None = None) -> list:
    filters = {"label": ["moorage.session"]}
    return await docker.containers.list(all=True, filters=filters)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A ``moorage serve`` child process."""

    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        env = dict(
            os.environ,
            MOORAGE_ADMIN_PASSWORD=ADMIN_PASSWORD,
            MOORAGE_DATABASE_URL=self.database_url,
            MOORAGE_RECONCILE_INTERVAL_SECONDS="1",
            MOORAGE_INSTANCE_TTL_SECONDS="3",
        )
        self.log_path = self.data_dir / f"server-{time.time_ns()}.log"
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "moorage",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--log-level",
                "info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60)

    async def login(
        self, username: str = "admin", password: str = ADMIN_PASSWORD
    ) -> httpx.AsyncClient:
        client = self.client()
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return client


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory) -> AsyncIterator[str]:
    async with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
async def server(docker, database_url, tmp_path_factory) -> AsyncIterator[Server]:
    """One server for the module's tests; the tests clean up their own sessions."""
    instance = Server(tmp_path_factory.mktemp("data"), database_url)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
async def admin(server) -> AsyncIterator[httpx.AsyncClient]:
    client = await server.login()
    yield client
    # End whatever the test left running, so tests do not share quota.
    for row in (await client.get("/api/v1/sessions?all=true&live=true")).json():
        await client.delete(f"/api/v1/sessions/{row['id']}")
    await client.aclose()


@pytest.fixture
def fresh_server(docker, tmp_path) -> Iterator[Server]:
    """A server of the test's own on SQLite, for crash and restart tests."""
    instance = Server(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'moorage.db'}")
    yield instance
    instance.stop(signal.SIGKILL)
