"""The agent as a one-file binary: ``deploy/moorage-agent.spec`` built with PyInstaller
(into a temporary folder), then that binary, with no Python or Moorage beside it,
enrols against a real ``moorage serve`` through a two-host install link (TOML and JSON
configs), reports until the hub shows its metrics, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.integration.test_fleet import FLEET_ENV, until
from tests.live_server import Server

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "deploy" / "moorage-agent.spec"


def build(folder: Path) -> Path:
    """Build the spec into ``folder`` (dist/ and build/ there); the binary's path."""
    folder.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            str(SPEC),
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(folder / "dist"),
            "--workpath",
            str(folder / "build"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    binary = folder / "dist" / ("moorage-agent.exe" if os.name == "nt" else "moorage-agent")
    assert binary.is_file() and os.access(binary, os.X_OK)
    return binary


def start(binary: Path, config: Path, log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """``moorage-agent run`` every 0.5 s, its output to ``log_path``."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [str(binary), "run", "--config", str(config), "--interval", "0.5"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


@pytest.fixture
async def hub(tmp_path):
    server = Server(
        tmp_path / "hub",
        f"sqlite+aiosqlite:///{tmp_path / 'hub' / 'moorage.db'}",
        extra_env=FLEET_ENV,
    )
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


async def test_the_pyinstaller_binary_enrols_two_hosts_reports_and_stops(hub, tmp_path):
    building = asyncio.create_task(asyncio.to_thread(build, tmp_path / "pyinstaller"))
    operator = await hub.login()
    try:
        link = (
            await operator.post("/api/v1/install-links", json={"ttl_seconds": 600, "hosts": 2})
        ).json()
        async with hub.client() as anonymous:
            script = await anonymous.get(link["powershell_url"].removeprefix(hub.base_url))
        token = re.search(r"\$Token = '(mrg_[^']+)'", script.text).group(1)
        binary = await building
        # A clean environment: the binary needs neither this venv nor PYTHONPATH.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

        def agent(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [str(binary), *args], capture_output=True, text=True, timeout=60, env=env
            )

        configs = [tmp_path / "win" / "agent.toml", tmp_path / "linux" / "agent.json"]
        for config in configs:
            enrolled = await asyncio.to_thread(
                agent, "enroll", "--server", hub.base_url, "--token", token, "--config", str(config)
            )
            assert enrolled.returncode == 0, enrolled.stderr
            assert stat.S_IMODE(config.stat().st_mode) == 0o600
        third = await asyncio.to_thread(
            agent, "enroll", "--server", hub.base_url, "--token", token,
            "--config", str(tmp_path / "third.json"),
        )  # fmt: skip
        assert third.returncode != 0 and "used 2 of 2" in third.stderr
        node_id = tomllib.loads(configs[0].read_text())["node_id"]

        process = start(binary, configs[0], tmp_path / "agent.log", env)
        try:

            async def reporting():
                node = (await operator.get(f"/api/v1/nodes/{node_id}")).json()
                return node if node.get("status") in ("ok", "warn", "critical") else None

            node = await until(reporting, within=30)
            assert node["metrics"]["processes"] > 0 and node["metrics"]["disks"]
            assert 0 <= node["metrics"]["cpu_percent"] <= 100
        finally:
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 10)
        assert code == 0, (tmp_path / "agent.log").read_text()
        assert time.monotonic() - started < 5
    finally:
        await operator.aclose()
