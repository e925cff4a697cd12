"""A real ``moorage serve`` child process, for integration tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ADMIN_PASSWORD = "integration-admin-password"


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
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        """Start the server and wait until it answers; ``timeout`` in seconds (a
        first start runs the migrations in a child process, slow on a busy machine)."""
        env = dict(
            os.environ,
            MOORAGE_ADMIN_PASSWORD=ADMIN_PASSWORD,
            MOORAGE_DATABASE_URL=self.database_url,
            MOORAGE_RECONCILE_INTERVAL_SECONDS="1",
            MOORAGE_INSTANCE_TTL_SECONDS="3",
        )
        env.update(self.extra_env)
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
                *self.extra_args,
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

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        """An HTTP client for this server: bearer ``token`` if given; cookie clients send
        the server's own Origin, as browsers do (the CSRF guard wants it)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {"Origin": self.base_url}
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
