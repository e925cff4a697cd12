"""Bringing a Git stack up to date: fetch its ref, and deploy a new commit (policy
``auto``) or hold it for an operator (``confirm``); wait for its services to be
healthy and redeploy the previous commit when they are not; notice drift.

One :meth:`GitDeployer.sync` runs at a time per stack across processes: it claims
the row (``busy_until``) with a conditional UPDATE, so a webhook received by one
replica and the leader's poll cannot deploy the same stack at once. What happens is
written on the row (``checked_at``, ``check_result``, ``error`` in full), in the
audit log (``stack.git_deploy``, ``stack.git_rollback``, ``stack.git_pending``,
``stack.git_drift``, by actor :data:`GIT_ACTOR`) and, for failures, rollbacks,
commits waiting for approval and drift, sent to the org's notification channels
that are not bound to one alert rule.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.docker import containers
from moorage.drivers.docker.compose import StackFiles, compose, stack_dir
from moorage.drivers.git import GitCredential, GitRepository
from moorage.drivers.pool import DriverPool
from moorage.errors import MoorageError
from moorage.models.environment import Environment
from moorage.models.git_stack import GitStack
from moorage.security.crypto import Keyring
from moorage.services.audit import record
from moorage.services.docker._operation import docker_of
from moorage.services.docker.git_changes import drift_of, pending_diff, snapshot_of
from moorage.services.docker.git_health import wait_healthy
from moorage.services.docker.git_notify import notify
from moorage.services.docker.stacks import check_stack_folder

__all__ = ["CREDENTIAL_CONTEXT", "GIT_ACTOR", "GitDeployer", "credential_of"]

log = logging.getLogger(__name__)
GIT_ACTOR = "(git)"
CREDENTIAL_CONTEXT = "git_stack.credential"
CLAIM = timedelta(minutes=15)


def credential_of(keyring: Keyring, row: GitStack) -> GitCredential | None:
    """The row's sealed credential, opened."""
    if not row.credential_sealed:
        return None
    return GitCredential(**json.loads(keyring.open(row.credential_sealed, CREDENTIAL_CONTEXT)))


def short(commit: str | None) -> str:
    return (commit or "")[:12]


class GitDeployer:
    """Syncs Git stacks.

    Args:
        sessionmaker: database sessions.
        drivers: the process's driver pool (drift reads the containers).
        keyring: opens the stacks' credentials.
        data_dir: stacks live under ``stacks/``, repositories under ``git/<stack id>/``.
        allow_file_urls: whether ``file://`` repositories may be fetched.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        keyring: Keyring,
        data_dir: Path,
        *,
        allow_file_urls: bool,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._drivers = drivers
        self._keyring = keyring
        self._data_dir = data_dir
        self.allow_file_urls = allow_file_urls

    def repository(self, stack_id: str) -> GitRepository:
        """The stack's bare repository."""
        return GitRepository(self._data_dir / "git" / stack_id)

    async def sync(self, stack_id: str, reason: str, *, approve: str | None = None) -> bool:
        """Fetch, then deploy a new commit as the policy says (``approve``: the commit an
        operator approved). Failures are recorded on the row, never raised.

        Returns:
            False when another process holds the stack (nothing done), else True.
        """
        if not await self._claim(stack_id):
            log.info("git stack %s is busy elsewhere; %s skipped", stack_id, reason)
            return False
        try:
            await self._sync(stack_id, reason, approve)
        except Exception as exc:  # a bug must still show on the stack's page
            log.exception("git stack %s: sync failed", stack_id)
            await self._save(stack_id, error=f"internal error: {type(exc).__name__}: {exc}")
        finally:
            await self._save(stack_id, busy_until=None)
        return True

    async def due(self, now: datetime | None = None) -> list[str]:
        """Ids of the stacks whose polling interval has passed since their last check."""
        now = now or utcnow()
        async with self._sessionmaker() as db:
            rows = await db.execute(
                select(GitStack.id, GitStack.poll_seconds, GitStack.checked_at).where(
                    GitStack.poll_seconds.is_not(None)
                )
            )
            return [
                stack_id
                for stack_id, seconds, checked in rows
                if checked is None or now - checked >= timedelta(seconds=seconds or 0)
            ]

    # -- steps -------------------------------------------------------------

    async def _sync(self, stack_id: str, reason: str, approve: str | None) -> None:
        async with self._sessionmaker() as db:
            row = await db.get(GitStack, stack_id)
            environment = await db.get(Environment, row.environment_id) if row else None
        if row is None or environment is None:
            return
        repo = self.repository(row.id)
        now = utcnow()
        try:
            commit, known_hosts = await repo.fetch(
                row.url,
                row.ref,
                credential_of(self._keyring, row),
                row.known_hosts,
                allow_file=self.allow_file_urls,
            )
        except MoorageError as exc:
            message = f"fetching {row.ref} failed: {exc.message}"
            await self._save(row.id, checked_at=now, check_result="fetch failed", error=message)
            await self._tell(row, environment, "fetch failed", message, failure=True)
            return
        if known_hosts is not None and known_hosts != row.known_hosts:
            await self._save(row.id, known_hosts=known_hosts)
        if row.commit:
            await self._check_drift(row, environment)
        if commit == row.commit and approve is None:
            await self._save(row.id, checked_at=now, check_result=f"up to date at {short(commit)}")
            return
        if commit == row.rolled_back_commit and approve != commit:
            result = f"{short(commit)} was rolled back; waiting for a newer commit"
            await self._save(row.id, checked_at=now, check_result=result)
            return
        if row.policy == "confirm" and approve != commit and row.commit is not None:
            await self._hold(row, environment, repo, commit, now)
            return
        await self._save(row.id, checked_at=now, check_result=f"deploying {short(commit)}")
        await self._deploy(row, environment, repo, commit, reason)

    async def _hold(
        self,
        row: GitStack,
        environment: Environment,
        repo: GitRepository,
        commit: str,
        now: datetime,
    ) -> None:
        result = f"{short(commit)} waits for an operator's approval"
        if row.pending_commit == commit:
            await self._save(row.id, checked_at=now, check_result=result)
            return
        old = await repo.read(row.commit or "", row.path) if row.commit else None
        new = await repo.read(commit, row.path)
        diff = pending_diff(old or "", new or "", row.env_text, row.path)
        await self._save(
            row.id,
            checked_at=now,
            check_result=result,
            pending_commit=commit,
            pending_diff=json.dumps(diff),
        )
        await self._audit(row, environment, "stack.git_pending", commit)
        await self._tell(row, environment, "commit waits for approval", result, failure=False)

    async def _deploy(
        self,
        row: GitStack,
        environment: Environment,
        repo: GitRepository,
        commit: str,
        reason: str,
    ) -> None:
        started = time.monotonic()
        try:
            await self._up(row, environment, repo, commit)
            up = time.monotonic()
            await self._wait_healthy(row, environment)
        except MoorageError as exc:
            await self._failed(row, environment, repo, commit, exc.message)
            return
        await repo.keep("deployed", commit)
        snapshot = await self._snapshot(row, environment)
        await self._save(
            row.id,
            commit=commit,
            previous_commit=row.commit if row.commit != commit else row.previous_commit,
            deployed_at=utcnow(),
            deployed_services=json.dumps(snapshot),
            check_result=f"deployed {short(commit)} ({reason}) in "
            f"{time.monotonic() - started:.1f} s (files and up {up - started:.1f} s, "
            f"healthy after {time.monotonic() - up:.1f} s more)",
            error=None,
            rolled_back_commit=None,
            pending_commit=None,
            pending_diff=None,
            drift=None,
        )
        await self._audit(row, environment, "stack.git_deploy", f"{commit} ({reason})")

    async def _failed(
        self,
        row: GitStack,
        environment: Environment,
        repo: GitRepository,
        commit: str,
        message: str,
    ) -> None:
        error = f"deploying {short(commit)} failed: {message}"
        if not row.commit or row.commit == commit:
            await self._save(row.id, check_result="deploy failed", error=error)
            await self._tell(row, environment, "deploy failed", error, failure=True)
            return
        try:
            await self._up(row, environment, repo, row.commit)
            await self._wait_healthy(row, environment)
            outcome = f"rolled back to {short(row.commit)}"
        except MoorageError as exc:
            outcome = f"the rollback to {short(row.commit)} failed too: {exc.message}"
        error = f"{error}\n{outcome}"
        await self._save(
            row.id,
            check_result=f"{short(commit)} failed; {outcome}",
            error=error,
            rolled_back_commit=commit,
            pending_commit=None,
            pending_diff=None,
            deployed_services=json.dumps(await self._snapshot(row, environment)),
        )
        await self._audit(row, environment, "stack.git_rollback", error)
        await self._tell(row, environment, "rolled back", error, failure=True)

    async def _up(
        self, row: GitStack, environment: Environment, repo: GitRepository, commit: str
    ) -> None:
        """Write the commit's files into the stack's folder (checked first) and ``up``."""
        files = stack_dir(self._data_dir, environment, row.name)
        # Staged beside the repository, not among the stacks (which would list it).
        staging = repo.root / "files.new"
        shutil.rmtree(staging, ignore_errors=True)
        path = PurePosixPath(row.path)
        directory = str(path.parent) if str(path.parent) != "." else ""
        try:
            await repo.export(commit, directory, staging)
            source = staging / path.name
            if not source.is_file():
                raise _Missing(f"{row.path} is not a file at {short(commit)}")
            if path.name != "compose.yaml":
                source.replace(staging / "compose.yaml")
            env_file = staging / ".env"
            env_file.unlink(missing_ok=True)  # the .env is Moorage's, not the repository's
            if row.env_text:
                env_file.write_text(row.env_text)
            await check_stack_folder(environment, StackFiles(staging), row.name)
            if environment.allow_host_access:
                # check_stack_folder ran no Compose then: make Compose read the files now.
                # Otherwise its ``config`` ran, and invalid files fail ``up`` below with
                # Compose's message (then the previous commit is redeployed).
                await compose(environment, StackFiles(staging), row.name, "config", "--quiet")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        await asyncio.to_thread(_replace_contents, staging, files.root)
        await compose(environment, files, row.name, "up", "--detach", "--remove-orphans")

    async def _wait_healthy(self, row: GitStack, environment: Environment) -> None:
        files = stack_dir(self._data_dir, environment, row.name)
        await wait_healthy(
            environment,
            files,
            row.name,
            timeout_seconds=row.health_timeout_seconds,
            stable_seconds=row.stable_seconds,
        )

    async def _snapshot(self, row: GitStack, environment: Environment) -> dict[str, Any]:
        try:
            found = await containers.list_containers(
                docker_of(self._drivers, environment), stack=row.name
            )
        except MoorageError:
            return {}
        return snapshot_of(found)

    async def _check_drift(self, row: GitStack, environment: Environment) -> None:
        if not row.deployed_services:
            return
        try:
            found = await containers.list_containers(
                docker_of(self._drivers, environment), stack=row.name
            )
        except MoorageError:
            return
        drift = drift_of(json.loads(row.deployed_services), found)
        stored = json.dumps(drift) if drift else None
        if stored == row.drift:
            return
        await self._save(row.id, drift=stored)
        if drift:
            await self._audit(row, environment, "stack.git_drift", "; ".join(drift))
            await self._tell(row, environment, "drifted", "\n".join(drift), failure=True)

    # -- records -----------------------------------------------------------

    async def _claim(self, stack_id: str) -> bool:
        now = utcnow()
        async with write_session(self._sessionmaker) as db:
            result = await db.execute(
                update(GitStack)
                .where(
                    GitStack.id == stack_id,
                    or_(GitStack.busy_until.is_(None), GitStack.busy_until < now),
                )
                .values(busy_until=now + CLAIM)
            )
            return bool(getattr(result, "rowcount", 0))

    async def _save(self, stack_id: str, **values: Any) -> None:
        async with write_session(self._sessionmaker) as db:
            await db.execute(update(GitStack).where(GitStack.id == stack_id).values(**values))

    async def _audit(
        self, row: GitStack, environment: Environment, action: str, detail: str
    ) -> None:
        async with write_session(self._sessionmaker) as db:
            record(
                db,
                row.org_id,
                GIT_ACTOR,
                action,
                "stack",
                row.name,
                environment=environment.name,
                detail=detail,
            )

    async def _tell(
        self, row: GitStack, environment: Environment, what: str, body: str, *, failure: bool
    ) -> None:
        title = f"Stack {environment.name}/{row.name}: {what}"
        await notify(self._sessionmaker, self._keyring, row.org_id, title, body, failure=failure)


class _Missing(MoorageError):
    status_code = 422
    default_code = "git_path_missing"


def _replace_contents(staging: Path, root: Path) -> None:
    """Make ``root`` hold what ``staging`` holds, then remove ``staging``. The folder
    itself stays (a ``docker-compose ps`` running in it meanwhile keeps its working
    directory); each entry is replaced by a rename."""
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(root)
        return
    for entry in root.iterdir():
        if not (staging / entry.name).exists() and not (staging / entry.name).is_symlink():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    for entry in staging.iterdir():
        target = root / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)
    staging.rmdir()
