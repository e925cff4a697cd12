"""Winux's and Projet-IAC's clients against a real ``moorage serve``: the ``curl``
lines of their READMEs, run with the real ``curl``, byte for byte but for the
address of the server (and, for Projet-IAC's machine, the port and root password
of a real sshd container), get the answers the seeds describe.

The server is deployed as the seeds were: behind a reverse proxy that
authenticates and strips a sub-path (``MOORAGE_ROOT_PATH=/winux``, nginx's
``proxy_pass http://127.0.0.1:PORT/;``), listening on loopback, with anonymous
callers of each router mapped to a user (``MOORAGE_COMPAT_ANONYMOUS_USERS``).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import signal

import pytest

from tests.integration.pool_machines import (
    ROOT_PASSWORD,
    remove_machines,
    ssh_login,
    start_machines,
)
from tests.live_server import Server

# Winux's README, "Exemples d'utilisation de l'API".
WINUX_CREATE = """curl -X POST http://localhost:5000/api/winux/sessions \\
  -H "Content-Type: application/json" \\
  -d '{"duration_minutes": 30}'"""
WINUX_LIST = "curl http://localhost:5000/api/winux/sessions"
WINUX_GET = "curl http://localhost:5000/api/winux/sessions/<session_id>"
WINUX_DELETE = "curl -X DELETE http://localhost:5000/api/winux/sessions/<session_id>"
WINUX_CLEANUP = "curl -X POST http://localhost:5000/api/winux/cleanup"

# Projet-IAC's README, "API endpoints".
IAC_HEALTHZ = "curl -k https://localhost/healthz"
IAC_AVAILABLE = "curl -k https://localhost/available"
IAC_REGISTER = """curl -k -X POST -H "Content-Type: application/json" \\
    -d '{"name":"alpine-1","host":"localhost","port":2221,"user":"root","password":"test"}' \\
    https://localhost/machines"""
IAC_MACHINES = "curl -k https://localhost/machines"
IAC_DELETE = "curl -k -X DELETE https://localhost/machines/alpine-1"
IAC_RESERVE = 'curl -k "https://localhost/reserve?username=alice&password=test&count=2&duration=60"'
IAC_RELEASE_ALL = 'curl -k "https://localhost/release_all"'
IAC_RESERVATIONS = 'curl -k "https://localhost/reservations"'


async def curl(line: str, server: Server, **replace: str) -> tuple[int, object]:
    """Run a README ``curl`` line against ``server`` (its address for the seed's;
    ``-k`` is left in: the server speaks plain HTTP); ``(status, JSON body)``."""
    for old, new in replace.items():
        line = line.replace(old, new)
    line = line.replace("http://localhost:5000", server.base_url)
    line = line.replace("https://localhost", server.base_url)
    argv = shlex.split(line.replace("\\\n", " "))  # a shell joins continued lines
    assert argv[0] == "curl"
    process = await asyncio.create_subprocess_exec(
        "curl",
        "--silent",
        "--show-error",
        "--max-time",
        "120",
        "--write-out",
        "\n%{http_code}",
        *argv[1:],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    body, _, status = out.decode().rpartition("\n")
    return int(status), json.loads(body) if body else None


@pytest.fixture(scope="module")
async def seed_server(docker, tmp_path_factory):
    data = tmp_path_factory.mktemp("seeds")
    server = Server(
        data,
        f"sqlite+aiosqlite:///{data / 'moorage.db'}",
        extra_env={
            "MOORAGE_COMPAT": "winux,iac",
            "MOORAGE_COMPAT_ANONYMOUS_USERS": "winux=kiosk,iac=admin",
            "MOORAGE_ROOT_PATH": "/winux",
            "MOORAGE_PROBE_INTERVAL_SECONDS": "1",
            "MOORAGE_SSH_CONNECT_TIMEOUT_SECONDS": "3",
        },
    )
    server.start(timeout=180)  # a loaded test machine takes its time to import
    admin = await server.login()
    try:
        kiosk = await admin.post(
            "/api/v1/users",
            json={"username": "kiosk", "password": "kiosk-password-1", "role": "operator"},
        )
        assert kiosk.status_code == 201, kiosk.text
        template = await admin.patch(  # made by the first start
            "/api/v1/templates/rdp-desktop",
            json={
                "display_name": "Winux desktop",
                "kind": "rdp",
                "image": "moorage/rdp:latest",
                "shell_user": "student",
                "memory_limit_mb": 1024,
                "default_duration_minutes": 30,
            },
        )
        assert template.status_code == 200, template.text
    finally:
        await admin.aclose()
    yield server
    server.stop(signal.SIGKILL)


async def test_winux_readme_requests_get_rdp_sessions_that_can_be_cleaned(seed_server, docker):
    status, session = await curl(WINUX_CREATE, seed_server)
    assert status == 201, session
    assert isinstance(session, dict)
    assert session["ip"] == "127.0.0.1" and session["duration_minutes"] == 30
    assert session["username"] == "student" and session["password"]
    session_id = session["id"]
    container = await docker.containers.get(session["container_id"])
    published = (await container.show())["NetworkSettings"]["Ports"]["3389/tcp"][0]["HostPort"]
    assert session["port"] == int(published)  # where an RDP client connects
    _, writer = await asyncio.open_connection(session["ip"], session["port"])
    writer.close()
    await writer.wait_closed()

    status, listed = await curl(WINUX_LIST, seed_server)
    assert status == 200 and isinstance(listed, dict)
    assert [s["id"] for s in listed["sessions"]] == [session_id]
    status, shown = await curl(WINUX_GET, seed_server, **{"<session_id>": session_id})
    assert status == 200 and isinstance(shown, dict) and shown["port"] == session["port"]

    status, cleaned = await curl(WINUX_CLEANUP, seed_server)
    assert status == 200 and cleaned == {"removed": 0, "sessions": [], "reconciler": "pass"}

    status, deleted = await curl(WINUX_DELETE, seed_server, **{"<session_id>": session_id})
    assert status == 200 and isinstance(deleted, dict) and deleted["deleted"] is True
    status, listed = await curl(WINUX_LIST, seed_server)
    assert listed == {"sessions": [], "count": 0}
    with pytest.raises(Exception, match=r"404|No such container"):
        await (await docker.containers.get(session["container_id"])).show()

    # Served under /winux: the OpenAPI document names the sub-path for its clients.
    openapi = await curl(f"curl {seed_server.base_url}/api/openapi.json", seed_server)
    assert openapi[1]["servers"] == [{"url": "/winux"}]  # type: ignore[index]


async def test_projet_iac_readme_requests_register_reserve_and_release(seed_server, docker):
    machines = await start_machines(docker, 2, "iac")
    try:
        assert await curl(IAC_HEALTHZ, seed_server) == (200, {"status": "ok"})
        for machine in machines:
            status, registered = await curl(
                IAC_REGISTER,
                seed_server,
                **{
                    "alpine-1": machine.name.replace("iac-", "alpine-"),
                    "2221": str(machine.port),
                    '"password":"test"': f'"password":"{ROOT_PASSWORD}"',
                },
            )
            assert status == 201, registered
            assert isinstance(registered, dict) and registered["status"] == "online", registered
        status, listed = await curl(IAC_MACHINES, seed_server)
        assert status == 200 and isinstance(listed, list)
        assert [m["name"] for m in listed] == ["alpine-1", "alpine-2"]
        status, available = await curl(IAC_AVAILABLE, seed_server)
        assert status == 200 and isinstance(available, dict)
        assert (available["total"], available["available"]) == (2, 2)

        # The README's own password is shorter than Moorage's rule, which is named.
        status, refused = await curl(IAC_RESERVE, seed_server)
        assert status == 422 and isinstance(refused, dict)
        assert refused["error"]["field"] == "password"
        assert "8-128 characters" in refused["error"]["message"]
        status, reserved = await curl(
            IAC_RESERVE, seed_server, **{"password=test": "password=a1ice-pw"}
        )
        assert status == 201, reserved
        assert isinstance(reserved, dict) and len(reserved["machines"]) == 2
        for machine in machines:
            code, out = await asyncio.to_thread(ssh_login, machine.port, "alice", "a1ice-pw")
            assert (code, out.strip()) == (0, "alice")

        status, reservations = await curl(IAC_RESERVATIONS, seed_server)
        assert status == 200 and isinstance(reservations, list)
        (row,) = reservations
        assert row["username"] == "alice" and 59 * 60 < row["remaining_seconds"] <= 3600

        status, busy = await curl(IAC_DELETE, seed_server)
        assert status == 409 and isinstance(busy, dict)
        assert await curl(IAC_RELEASE_ALL, seed_server) == (200, {"released": 1})
        code, _ = await asyncio.to_thread(ssh_login, machines[0].port, "alice", "a1ice-pw")
        assert code == 255  # the account is gone
        assert await curl(IAC_RESERVATIONS, seed_server) == (200, [])
        assert await curl(IAC_DELETE, seed_server) == (200, {"deleted": "alpine-1"})
    finally:
        await remove_machines(machines)
