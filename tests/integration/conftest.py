"""Integration fixtures: the real Docker engine and a real ``moorage serve`` process.

Docker must answer on /var/run/docker.sock and ``moorage/terminal:latest``
must exist (``make test`` builds it). With ``CI=true`` their absence fails the
run; elsewhere these tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator

import aiodocker
import httpx
import pytest

from tests.databases import fresh_database
from tests.live_server import ADMIN_PASSWORD, Server, free_port
from tests.pseudo_locale import write_pseudo_locale

__all__ = ["ADMIN_PASSWORD", "Server"]
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


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory) -> AsyncIterator[str]:
    async with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
async def server(docker, database_url, tmp_path_factory) -> AsyncIterator[Server]:
    """One server for the module's tests; the tests clean up their own sessions."""
    # Every seed API on: their tests use this server too (tests/integration/test_compat_*).
    # Git stacks may come from the bare repositories the tests make (file://).
    # The pseudo-language (tests/pseudo_locale.py) is there for the page that looks for
    # unmarked text; nobody else picks it.
    locales = write_pseudo_locale(tmp_path_factory.mktemp("locale"))
    instance = Server(
        tmp_path_factory.mktemp("data"),
        database_url,
        extra_env={
            "MOORAGE_COMPAT": "all",
            "MOORAGE_GIT_ALLOW_FILE_URLS": "true",
            "MOORAGE_EXTRA_LOCALE_DIR": str(locales),
        },
    )
    instance.start()
    yield instance
    await remove_workspaces_of(instance, docker)
    instance.stop()


async def remove_workspaces_of(instance: Server, docker: aiodocker.Docker) -> None:
    """Leave no container behind: end the server's live sessions, give the releases a
    few seconds, then force-remove whatever container of its sessions is left (a
    release still under way when the server stops would otherwise leak one)."""
    client = await instance.login()
    try:
        rows = (await client.get("/api/v1/sessions?all=true&state=any")).json()
        ids = {row["id"] for row in rows}
        for row in rows:
            if row["state"] not in ("released", "failed"):
                await client.delete(f"/api/v1/sessions/{row['id']}")
    finally:
        await client.aclose()

    async def left() -> list:
        # The org label is the server's own (a fresh database); the session ids reach
        # what the listing (at most 500 rows) names.
        containers = await session_containers(docker)
        labels = [c._container["Labels"] for c in containers]
        orgs = {label.get("moorage.org") for label in labels if label["moorage.session"] in ids}
        return [
            c
            for c, label in zip(containers, labels, strict=True)
            if label["moorage.session"] in ids or label.get("moorage.org") in orgs
        ]

    for _ in range(50):
        if not await left():
            return
        await asyncio.sleep(0.2)
    for container in await left():
        await container.delete(force=True)


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


async def assert_secret_not_in_environment(
    docker: aiodocker.Docker, session_id: str, secret: str | None = None
) -> None:
    """The session's container keeps no password or token in its environment (``docker
    inspect``'s Config.Env): it names only the secret file, which the entrypoint
    has read and deleted."""
    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session_id
    ]
    env = (await container.show())["Config"]["Env"] or []
    names = [entry.partition("=")[0] for entry in env]
    assert "MOORAGE_SECRET_FILE=/run/moorage/secret" in env
    assert not [n for n in names if "PASSWORD" in n or "TOKEN" in n], env
    if secret is not None:
        assert not [entry for entry in env if secret in entry], env
    exec_ = await container.exec(["sh", "-c", "test ! -e /run/moorage/secret"])
    async with exec_.start(detach=False) as stream:
        while await stream.read_out() is not None:
            pass
    assert (await exec_.inspect())["ExitCode"] == 0, "the secret file was left behind"


@pytest.fixture
async def registry(tmp_path) -> AsyncIterator[str]:
    """Debian's docker-registry on a free loopback port (plain HTTP, which Docker allows
    on 127.0.0.0/8), storing under the test's temporary folder: ``127.0.0.1:PORT``."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is missing; `make test` installs Debian's docker-registry")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path}/data\n"
        f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n"
    )
    process = await asyncio.create_subprocess_exec(
        binary, "serve", str(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield f"127.0.0.1:{port}"
    process.terminate()
    await asyncio.wait_for(process.wait(), 10)


@pytest.fixture(scope="session")
async def dind_image(docker) -> str:
    """The image of Docker-in-Docker engines (:mod:`tests.integration.dind_engines`),
    built once and kept (its tag names its sources' hash)."""
    from tests.integration.dind_engines import build_image

    try:
        return await build_image(docker)
    except LookupError as exc:
        pytest.fail(str(exc))
