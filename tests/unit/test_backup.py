"""`moorage backup create` / `restore`: an archive made while the server runs, restored
into an empty data directory and database, gives back users, templates, live leases,
files and sealed secrets that still open. Runs on SQLite, and on PostgreSQL and
MariaDB in their passes of `make test` (MOORAGE_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from moorage.app import create_app
from moorage.backup import create_backup, restore_backup
from moorage.config import Settings
from moorage.context import Context
from moorage.drivers.fake import FakeDriver
from moorage.drivers.fake_machines import FakeConnector
from moorage.errors import Conflict, InvalidInput
from moorage.models.machine import Machine
from moorage.services.machines import address_of
from tests.databases import fresh_database

PASSWORD = "backup-admin-password"
ORIGIN = "http://testserver"


@asynccontextmanager
async def running(settings: Settings, driver: FakeDriver) -> AsyncIterator[tuple]:
    app = create_app(
        settings,
        driver_factory=lambda env: driver,
        connector=FakeConnector(),
        announce=lambda m: None,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN}
        ) as client:
            yield client, app.state.context


async def login(client: httpx.AsyncClient, username: str, password: str) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text


def settings_for(data_dir: Path, url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        admin_password=SecretStr(PASSWORD),
        reconcile_interval_seconds=3600,
    )


async def machine_password(context: Context, name: str) -> str | None:
    async with context.sessionmaker() as db:
        machine = await db.scalar(select(Machine).where(Machine.name == name))
    assert machine is not None
    return address_of(machine, context.keyring).password


async def test_a_backup_restored_into_an_empty_place_gives_everything_back(tmp_path):
    driver = FakeDriver()  # one Docker host: the session's container outlives the move
    archive = tmp_path / "backups" / "moorage.tar.gz"
    async with fresh_database(tmp_path / "a") as url_a:
        source = settings_for(tmp_path / "a", url_a)
        async with running(source, driver) as (admin, context):
            await login(admin, "admin", PASSWORD)
            user = {"username": "alice", "password": "alice-password", "role": "member"}
            assert (await admin.post("/api/v1/users", json=user)).status_code == 201
            template = {"name": "web", "display_name": "Web", "kind": "http", "image": "web:1"}
            assert (await admin.post("/api/v1/templates", json=template)).status_code == 201
            pool = "m1 127.0.0.1 22 root sealed-password-1\n"
            imported = await admin.post("/api/v1/machines/import", content=pool)
            assert imported.status_code == 201, imported.text
            await login(admin, "alice", "alice-password")
            launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
            assert launched.status_code == 201, launched.text
            stack = tmp_path / "a" / "stacks" / "local" / "demo" / "compose.yaml"
            stack.parent.mkdir(parents=True)
            stack.write_text("services: {}\n")
            assert await machine_password(context, "m1") == "sealed-password-1"
            # Online: the server keeps running while the archive is made.
            manifest = await asyncio.to_thread(create_backup, source, archive)
            assert (await admin.get("/api/v1/sessions")).status_code == 200

    assert archive.stat().st_mode & 0o077 == 0  # it holds the keys
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "data/secret.key", "data/stacks/local/demo/compose.yaml"} <= names
    assert "data/moorage.lock" not in names
    assert manifest.revision

    async with fresh_database(tmp_path / "b") as url_b:
        target = settings_for(tmp_path / "b", url_b)
        restored = await asyncio.to_thread(restore_backup, target, archive)
        assert restored.key_id == manifest.key_id
        assert (tmp_path / "b" / "stacks/local/demo/compose.yaml").read_text() == "services: {}\n"
        async with running(target, driver) as (client, context):
            await login(client, "alice", "alice-password")
            sessions = (await client.get("/api/v1/sessions")).json()
            assert [s["id"] for s in sessions] == [launched.json()["id"]]
            assert sessions[0]["state"] == "ready"
            await login(client, "admin", PASSWORD)
            templates = {t["name"] for t in (await client.get("/api/v1/templates")).json()}
            assert "web" in templates
            assert await machine_password(context, "m1") == "sealed-password-1"

        # Not over a live installation: the data directory is no longer empty.
        with pytest.raises(Conflict):
            await asyncio.to_thread(restore_backup, target, archive)


async def test_a_restore_with_another_key_is_refused_and_leaves_nothing(tmp_path):
    archive = tmp_path / "moorage.tar.gz"
    async with fresh_database(tmp_path / "a") as url_a:
        source = settings_for(tmp_path / "a", url_a)
        async with running(source, FakeDriver()):
            pass
        await asyncio.to_thread(create_backup, source, archive)
    async with fresh_database(tmp_path / "b") as url_b:
        target = settings_for(tmp_path / "b", url_b).model_copy(
            update={"secret_key": SecretStr("another-key-of-at-least-32-characters")}
        )
        with pytest.raises(InvalidInput, match="another key"):
            await asyncio.to_thread(restore_backup, target, archive)
        assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
