"""The production Compose deployment (deploy/compose.yaml) on this machine: built from
local bases only, brought up with its ports on 127.0.0.1, signed in to over HTTPS
through the proxy (Caddy's internal CA), a session launched and its terminal used over
wss, the stack restarted, the session still there and reclaimed on time.

Marked ``deploy`` (deselect with ``-m "not deploy"``); it prints how long each step
took. The images are rebuilt by deploy/build.sh, which Docker's layer cache keeps
short when only Moorage's sources changed.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiodocker
import httpx
import pytest
import websockets

pytestmark = pytest.mark.deploy

REPOSITORY = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "compose-test-admin-" + secrets.token_hex(4)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def step(name: str, began: float) -> float:
    now = time.monotonic()
    print(f"[deploy] {name}: {now - began:.1f} s")
    return now


def compose(env_file: Path, *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        ["bash", "deploy/compose.sh", *args],
        cwd=REPOSITORY,
        env={**os.environ, "MOORAGE_DEPLOY_ENV": str(env_file)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0 and args[0] == "up":
        logs = subprocess.run(
            ["bash", "deploy/compose.sh", "logs", "--tail", "30", "--no-color"],
            cwd=REPOSITORY,
            env={**os.environ, "MOORAGE_DEPLOY_ENV": str(env_file)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        print(logs.stdout[-6000:])
    assert done.returncode == 0, f"compose {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[Path, str, int, float]]:
    """(env file, project name, HTTPS port, seconds it took to come up) of a running
    deployment; removed after."""
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("Docker is not running")
        pytest.skip("Docker is not running")
    began = time.monotonic()
    built = subprocess.run(
        ["bash", "deploy/build.sh"], cwd=REPOSITORY, capture_output=True, text=True, timeout=1500
    )
    assert built.returncode == 0, built.stdout + built.stderr
    began = step("images built", began)
    project = f"moorage-test-{secrets.token_hex(3)}"
    https_port = free_port()
    env_file = tmp_path_factory.mktemp("deploy") / ".env"
    env_file.write_text(
        "\n".join(
            [
                f"COMPOSE_PROJECT_NAME={project}",
                f"MOORAGE_SECRET_KEY={secrets.token_urlsafe(32)}",
                f"POSTGRES_PASSWORD={secrets.token_urlsafe(16)}",
                f"MOORAGE_ADMIN_PASSWORD={ADMIN_PASSWORD}",
                "MOORAGE_DOMAIN=localhost",
                "MOORAGE_TLS=internal",
                "MOORAGE_BIND=127.0.0.1",  # nothing published beyond this machine
                f"MOORAGE_HTTPS_PORT={https_port}",
                f"MOORAGE_HTTP_PORT={free_port()}",
                f"MOORAGE_SUBNET=172.30.{secrets.randbelow(200) + 20}.0/24",
                f"MOORAGE_DOCKER_GID={os.stat('/var/run/docker.sock').st_gid}",
                "MOORAGE_RECONCILE_INTERVAL_SECONDS=2",
                "",
            ]
        )
    )
    try:
        compose(env_file, "up", "-d", "--no-build", "--wait")
        up_seconds = time.monotonic() - began
        step("stack up", began)
        yield env_file, project, https_port, up_seconds
    finally:
        compose(env_file, "down", "--volumes", "--timeout", "20")


def tls_context(project: str, tmp: Path) -> ssl.SSLContext:
    """Trusting Caddy's internal root CA only, copied out of the proxy's volume (as the
    README tells an administrator to)."""
    root = tmp / "root.crt"
    subprocess.run(
        ["docker", "cp", f"{project}-proxy-1:/data/caddy/pki/authorities/local/root.crt", root],
        check=True,
    )
    return ssl.create_default_context(cafile=str(root))


async def session_container(docker: aiodocker.Docker, session_id: str) -> list:
    return await docker.containers.list(
        all=True, filters={"label": [f"moorage.session={session_id}"]}
    )


async def test_the_deployment_serves_over_https_and_keeps_a_session_across_a_restart(
    stack, tmp_path
):
    env_file, project, port, up_seconds = stack
    # The session must outlive the restart: a minute on a quiet machine, more when the
    # first start was slow (a restart takes about as long).
    minutes = max(1, math.ceil((up_seconds + 40) / 60))
    base = f"https://localhost:{port}"
    context = tls_context(project, tmp_path)
    docker = aiodocker.Docker(url="unix:///var/run/docker.sock")
    began = time.monotonic()
    try:
        async with httpx.AsyncClient(
            base_url=base, verify=context, headers={"Origin": base}, timeout=60
        ) as client:
            login = await client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            assert "secure" in login.headers["set-cookie"].lower()
            launched = await client.post(
                "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": minutes}
            )
            assert launched.status_code == 201, launched.text
            session = launched.json()
            # URLs generated behind the proxy: its scheme and host (X-Forwarded-*).
            assert session["urls"]["page"] == f"{base}/sessions/{session['id']}"
            assert session["urls"]["terminal"].startswith(f"wss://localhost:{port}/")
            cookie = f"moorage_login={client.cookies['moorage_login']}"
            async with websockets.connect(
                session["urls"]["terminal"],
                ssl=context,
                additional_headers={"Cookie": cookie, "Origin": base},
                max_size=None,
            ) as terminal:
                await terminal.send(b"echo through-the-$((6*7))-proxy\n")
                output = b""
                while b"through-the-42-proxy" not in output:
                    output += await asyncio.wait_for(terminal.recv(), 20)  # type: ignore[operator]
            events = (await client.get("/api/v1/audit")).json()
            launch = next(e for e in events if e["action"] == "session.launch")
            # The client as Caddy saw it (through Docker's port publishing: the network's
            # gateway), not Caddy's own address.
            proxy = await (await docker.containers.get(f"{project}-proxy-1")).show()
            networks = proxy["NetworkSettings"]["Networks"].values()
            assert launch["source"] not in {n["IPAddress"] for n in networks}
            assert launch["source"] in {n["Gateway"] for n in networks}
        began = step("signed in, launched, terminal over wss", began)

        compose(env_file, "stop", "--timeout", "15")
        began = step("stack stopped", began)
        for service in ("moorage", "worker"):
            state = (await docker.containers.get(f"{project}-{service}-1")).show()
            assert (await state)["State"]["ExitCode"] == 0, f"{service} did not stop cleanly"
        compose(env_file, "up", "-d", "--no-build", "--wait")
        began = step("stack up again", began)

        async with httpx.AsyncClient(
            base_url=base, verify=context, headers={"Origin": base}, timeout=60
        ) as client:
            login = await client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            still = (await client.get(f"/api/v1/sessions/{session['id']}")).json()
            expires = datetime.fromisoformat(still["expires_at"].replace("Z", "+00:00"))
            if still["state"] == "ready" and expires.timestamp() - time.time() < 15:
                # A slow restart: give the deadline room to fall while everything runs.
                extended = await client.post(
                    f"/api/v1/sessions/{session['id']}/extend", json={"minutes": 1}
                )
                assert extended.status_code == 200, extended.text
                still = extended.json()
                expires = datetime.fromisoformat(still["expires_at"].replace("Z", "+00:00"))
            assert still["state"] == "ready", still
            containers = await session_container(docker, session["id"])
            assert [c["State"] for c in containers] == ["running"]

            while time.time() < expires.timestamp() + 30:
                if not await session_container(docker, session["id"]):
                    break
                await asyncio.sleep(0.5)
            lateness = time.time() - expires.timestamp()
            print(f"[deploy] container removed {lateness:.1f} s after the deadline")
            assert not await session_container(docker, session["id"])
            assert lateness < 10
            ended = (await client.get(f"/api/v1/sessions/{session['id']}")).json()
            assert ended["state"] not in ("ready", "starting"), ended
        step("session reclaimed", began)
    finally:
        await docker.close()
