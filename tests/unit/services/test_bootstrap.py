"""First start: generated admin password, idempotent set-up, the CLI token command."""

import asyncio
import os
import stat
import subprocess
import sys

from sqlalchemy import func, select

from moorage.config import Settings
from moorage.db.engine import create_engine, create_sessionmaker
from moorage.db.migrate import upgrade
from moorage.drivers.fake import FakeDriver
from moorage.models import Environment, Template, User
from moorage.services.bootstrap import bootstrap
from moorage.services.users import authenticate_password, authenticate_token


async def test_generated_admin_password_is_announced_once_and_kept_private(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db")
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    sessionmaker = create_sessionmaker(engine)
    messages: list[str] = []
    try:
        await bootstrap(sessionmaker, settings, FakeDriver(), announce=messages.append)
        await bootstrap(sessionmaker, settings, FakeDriver(), announce=messages.append)
        password_file = tmp_path / "initial-admin-password"
        password = password_file.read_text().strip()
        assert len(messages) == 1 and password in messages[0]
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        async with sessionmaker() as db:
            assert (await authenticate_password(db, "admin", password)).role == "admin"
            for model in (User, Environment):
                assert await db.scalar(select(func.count()).select_from(model)) == 1
            kinds = dict((await db.execute(select(Template.name, Template.kind))).all())
            assert kinds == {
                "debian-shell": "terminal",
                "linux-desktop": "vnc",
                "rdp-desktop": "rdp",
                "ssh-box": "ssh",
                "jupyter": "http",
            }
    finally:
        await engine.dispose()


async def test_admin_token_create_prints_a_working_token(tmp_path):
    env = dict(os.environ, MOORAGE_DATA_DIR=str(tmp_path), MOORAGE_ADMIN_PASSWORD="cli-password")
    env["MOORAGE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    settings = Settings(data_dir=tmp_path, database_url=env["MOORAGE_DATABASE_URL"])
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    await bootstrap(create_sessionmaker(engine), settings, None, announce=lambda m: None)
    await engine.dispose()
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "moorage",
            "admin",
            "token",
            "create",
            "--user",
            "admin",
            "--name",
            "ci",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as db:
            assert (await authenticate_token(db, token)).username == "admin"
    finally:
        await engine.dispose()
    unknown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "moorage", "admin", "token", "create", "--user", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 1 and "no user named 'nobody'" in unknown.stderr
