"""``moorage backup create`` and ``moorage backup restore``: one archive holding the
database and the data directory's keys and files.

The archive is a gzip-compressed tar (mode 0600: it holds the secret key file
and every sealed secret) with

* ``manifest.json``: ``{"format": 1, "created_at", "database": "sqlite" |
  "postgresql" | "mysql", "revision": <Alembic revision>, "key_id": <id of the
  key that seals new secrets>}``;
* ``database/moorage.db`` (SQLite, copied with SQLite's online backup API, so a
  running server keeps serving) or ``database/dump.sql`` (``pg_dump`` or
  ``mariadb-dump`` in one consistent snapshot, as plain SQL);
* ``data/…``: the data directory (``secret.key``, TLS material, stack files,
  playbooks, …) less the SQLite files, the lock and the per-run credentials of
  provisioning.

A restore goes into an empty data directory and, for a database server, an empty
database of the same kind; the server's next start migrates an older archive to
the code's schema. The key that sealed the secrets must be the one in force: the
archive's ``secret.key`` when ``MOORAGE_SECRET_KEY`` is unset, else that setting,
which the archive does not hold (keep it with the archive).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from moorage.config import Settings
from moorage.db.engine import create_engine
from moorage.errors import Conflict, InvalidInput, MoorageError
from moorage.security.crypto import load_keyring

__all__ = ["FORMAT", "BackupError", "Manifest", "create_backup", "restore_backup"]

FORMAT = 1
SKIPPED = frozenset({"moorage.db", "moorage.db-wal", "moorage.db-shm", "moorage.lock"})


class BackupError(MoorageError):
    """A dump or restore tool failed, or the archive is not a Moorage backup."""

    default_code = "backup_failed"


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` says about an archive."""

    format: int
    created_at: str
    database: str
    revision: str | None
    key_id: str

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            manifest = cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"not a Moorage backup: manifest.json unreadable ({exc})") from exc
        if manifest.format != FORMAT:
            raise InvalidInput(f"backup format {manifest.format} is not {FORMAT}")
        return manifest


def default_archive(now: datetime | None = None) -> Path:
    """``moorage-backup-<UTC time>.tar.gz`` in the working directory."""
    return Path(f"moorage-backup-{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}.tar.gz")


def _backend(url: URL) -> str:
    name = url.get_backend_name()
    return "mysql" if name in ("mysql", "mariadb") else name


def _client_env(url: URL) -> dict[str, str]:
    """The password for the dump tools, through their environment (never argv)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = env["MYSQL_PWD"] = str(url.password)
    return env


def _pg_args(url: URL) -> list[str]:
    args = [f"--dbname={url.database}"]
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    return args


def _mysql_args(url: URL) -> list[str]:
    args = [f"--host={url.host or '127.0.0.1'}", f"--port={url.port or 3306}"]
    if url.username:
        args.append(f"--user={url.username}")
    return args


def _run(argv: list[str], url: URL, *, stdin: Path | None = None, stdout: Path) -> None:
    """Run a database client tool (no shell); its stdout goes to ``stdout``.

    Raises:
        BackupError: the tool is missing or exits non-zero (with its stderr).
    """
    try:
        with (
            open(stdout, "wb") as out,
            open(stdin or os.devnull, "rb") as source,
        ):
            done = subprocess.run(
                argv, stdin=source, stdout=out, stderr=subprocess.PIPE, env=_client_env(url)
            )
    except FileNotFoundError as exc:
        raise BackupError(f"{argv[0]} is not installed: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()[-2000:]
        raise BackupError(f"{argv[0]} failed (exit code {done.returncode}): {message}")


async def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:
        return None
    finally:
        await engine.dispose()


def _dump(settings: Settings, into: Path) -> str:
    """Write the database into ``into``; returns its archive name."""
    url = make_url(settings.resolved_database_url)
    backend = _backend(url)
    if backend == "sqlite":
        target = into / "moorage.db"

        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)  # SQLite's online backup API: writers carry on
        finally:
            copy.close()
            source.close()
        return "moorage.db"
    target = into / "dump.sql"
    if backend == "postgresql":
        argv = ["pg_dump", "--no-owner", "--no-privileges", *_pg_args(url)]
    elif backend == "mysql":
        dump = shutil.which("mariadb-dump") or "mysqldump"
        argv = [dump, "--single-transaction", "--routines", *_mysql_args(url), str(url.database)]
    else:
        raise InvalidInput(f"cannot back up a {backend} database")
    _run(argv, url, stdout=target)
    return "dump.sql"


def _data_files(data_dir: Path, exclude: Path | None) -> list[Path]:
    """The data directory's files to archive, relative to it."""
    found: list[Path] = []
    if not data_dir.is_dir():
        return found
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir)
        if not path.is_file() or path.is_symlink():
            continue
        if len(relative.parts) == 1 and relative.name in SKIPPED:
            continue
        # provisioning's per-run inventories and keys exist only while a run lasts
        if relative.parts[0] == "provision" and "inventory" in relative.parts:
            continue
        if exclude is not None and path.resolve() == exclude:
            continue
        found.append(relative)
    return found


def create_backup(settings: Settings, to: Path) -> Manifest:
    """Write the archive ``to`` (replaced atomically, mode 0600). Blocking: call it
    from a thread with no running event loop.

    Raises:
        BackupError: the dump tool failed. InvalidInput: an unsupported database.
    """
    keyring = load_keyring(
        settings.data_dir,
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        None,
    )
    manifest = Manifest(
        format=FORMAT,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        database=_backend(make_url(settings.resolved_database_url)),
        revision=asyncio.run(_revision(settings.resolved_database_url)),
        key_id=keyring.current_id,
    )
    to = to.resolve()
    to.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="moorage-backup-") as tmp:
        database = _dump(settings, Path(tmp))
        partial = to.with_name(f".{to.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            body = json.dumps(manifest.__dict__, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode = len(body), 0o600
            tar.addfile(info, io.BytesIO(body))
            tar.add(Path(tmp) / database, f"database/{database}", recursive=False)
            for relative in _data_files(settings.data_dir, to):
                tar.add(settings.data_dir / relative, f"data/{relative.as_posix()}")
        os.replace(partial, to)
    return manifest


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    """The archive's regular files by name; refuses links, devices and any path that
    would leave the target (absolute, ``..``)."""
    files: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts:
            raise InvalidInput(f"not a Moorage backup: unsafe path {member.name!r}")
        if member.isdir():
            continue
        if not member.isfile():
            raise InvalidInput(f"not a Moorage backup: {member.name!r} is not a regular file")
        files[member.name] = member
    return files


def _is_empty(data_dir: Path) -> bool:
    return not data_dir.exists() or not any(data_dir.iterdir())


async def _database_is_empty(url: URL) -> bool:
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            names: list[str] = await connection.run_sync(
                lambda sync: inspect(sync).get_table_names()
            )
    finally:
        await engine.dispose()
    return not names


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    source = tar.extractfile(member)
    assert source is not None
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, member.mode & 0o700 or 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out)


def restore_backup(settings: Settings, archive: Path) -> Manifest:
    """Restore ``archive`` into ``settings.data_dir`` and database. Blocking: call it
    from a thread with no running event loop.

    Raises:
        Conflict: the data directory or the database is not empty.
        InvalidInput: not a Moorage backup, another kind of database than the
            settings', or secrets sealed with another key than the one in force.
        BackupError: the restore tool failed.
    """
    url = make_url(settings.resolved_database_url)
    data_dir = settings.data_dir
    if not _is_empty(data_dir):
        raise Conflict(f"{data_dir} is not empty: restore into an empty data directory")
    try:
        tar = tarfile.open(archive, mode="r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise InvalidInput(f"{archive} is not a Moorage backup: {exc}") from exc
    with tar:
        files = _members(tar)
        if "manifest.json" not in files:
            raise InvalidInput(f"{archive} is not a Moorage backup: no manifest.json")
        source = tar.extractfile(files["manifest.json"])
        assert source is not None
        manifest = Manifest.parse(source.read())
        if manifest.database != _backend(url):
            raise InvalidInput(
                f"the archive holds a {manifest.database} database; MOORAGE_DATABASE_URL "
                f"is {_backend(url)}"
            )
        if manifest.database != "sqlite" and not asyncio.run(_database_is_empty(url)):
            raise Conflict(f"database {url.database} is not empty: restore into an empty database")
        data = {name: m for name, m in files.items() if name.startswith("data/")}
        key_member = data.get("data/secret.key")
        if settings.secret_key is None and key_member is None:
            raise InvalidInput(
                "the archive has no secret.key: its secrets were sealed with "
                "MOORAGE_SECRET_KEY; set it to the key in force when it was made"
            )
        created_dir = not data_dir.exists()
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            _restore_files(tar, data, data_dir)
            keyring = load_keyring(
                data_dir,
                settings.secret_key.get_secret_value() if settings.secret_key else None,
                None,
            )
            if keyring.current_id != manifest.key_id:
                raise InvalidInput(
                    "the archive's secrets were sealed with another key than the one in "
                    "force: set MOORAGE_SECRET_KEY to the key used when it was made"
                )
            _load_database(tar, files, manifest, url, data_dir)
        except BaseException:
            _empty(data_dir, remove=created_dir)
            raise
    return manifest


def _restore_files(tar: tarfile.TarFile, data: dict[str, Any], data_dir: Path) -> None:
    for name, member in data.items():
        _extract(tar, member, data_dir / name.removeprefix("data/"))


def _load_database(
    tar: tarfile.TarFile,
    files: dict[str, tarfile.TarInfo],
    manifest: Manifest,
    url: URL,
    data_dir: Path,
) -> None:
    if manifest.database == "sqlite":
        member = files.get("database/moorage.db")
        if member is None:
            raise InvalidInput("not a Moorage backup: no database/moorage.db")
        target = Path(url.database or data_dir / "moorage.db")
        if target.exists():
            raise Conflict(f"{target} exists: restore into an empty data directory")
        _extract(tar, member, target)
        return
    member = files.get("database/dump.sql")
    if member is None:
        raise InvalidInput("not a Moorage backup: no database/dump.sql")
    with tempfile.TemporaryDirectory(prefix="moorage-restore-") as tmp:
        dump = Path(tmp) / "dump.sql"
        _extract(tar, member, dump)
        if manifest.database == "postgresql":
            argv = ["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-1"]
            _run([*argv, *_pg_args(url)], url, stdin=dump, stdout=Path(tmp) / "out")
        else:
            client = shutil.which("mariadb") or "mysql"
            argv = [client, *_mysql_args(url), str(url.database)]
            _run(argv, url, stdin=dump, stdout=Path(tmp) / "out")


def _empty(data_dir: Path, *, remove: bool) -> None:
    """Undo a failed restore's files (the directory was empty before)."""
    for child in data_dir.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    if remove:
        data_dir.rmdir()
