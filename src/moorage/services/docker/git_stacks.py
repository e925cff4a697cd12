"""Stacks from Git (operators): create one from a repository, show where it stands,
check it now, approve a held commit; the signed webhook and the poller ask for a sync,
which runs in the background in this process (:class:`GitDeployer` does the work).

A Git stack's files are written by each deploy into the stack's usual folder, so the
rest of the stack API (services, logs, stop, start, down) works on it unchanged; its
``.env`` is kept in Moorage (``env`` at creation), never taken from the repository.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id
from moorage.db.engine import write_session
from moorage.drivers.docker import containers
from moorage.drivers.docker.compose import stack_dir
from moorage.drivers.git import check_path, check_ref, check_url
from moorage.drivers.pool import DriverPool
from moorage.errors import Conflict, InvalidInput, MoorageError, NotFound
from moorage.models.environment import Environment
from moorage.models.git_stack import GitStack
from moorage.schemas.docker_objects import StackCreate
from moorage.security.crypto import Keyring
from moorage.services.audit import record
from moorage.services.docker._operation import Caller, DockerService
from moorage.services.docker.git_changes import drift_of
from moorage.services.docker.git_deploy import CREDENTIAL_CONTEXT, GitDeployer, credential_of
from moorage.services.docker.git_webhooks import verify_webhook

__all__ = ["WEBHOOK_CONTEXT", "GitStackService"]

log = logging.getLogger(__name__)
WEBHOOK_CONTEXT = "git_stack.webhook_secret"
MAX_WEBHOOK_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


class GitStackService(DockerService):
    """Git stacks of an environment. Methods taking a caller raise Forbidden below
    operator and NotFound for an unknown environment or Git stack (code
    ``git_stack_not_found``).

    Args:
        data_dir: the process's data directory.
        allow_file_urls: ``MOORAGE_GIT_ALLOW_FILE_URLS``.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        keyring: Keyring,
        data_dir: Path,
        *,
        allow_file_urls: bool = False,
    ) -> None:
        super().__init__(sessionmaker, drivers)
        self._keyring = keyring
        self._data_dir = data_dir
        self.deployer = GitDeployer(
            sessionmaker, drivers, keyring, data_dir, allow_file_urls=allow_file_urls
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: dict[str, tuple[str, str | None]] = {}

    # -- operators ---------------------------------------------------------

    async def create(self, caller: Caller, env: str, body: StackCreate) -> dict[str, Any]:
        """Record a stack from ``body.git`` once its ref can be fetched and holds the
        Compose file, then deploy it in the background. Returns :meth:`public` with
        ``webhook_secret``, the only time it is shown.

        Raises:
            InvalidInput: a bad URL, ref or path (field ``git.url``…), or a fetch that
                fails (Git's message, field ``git.url``). Conflict: the stack exists.
        """
        assert body.git is not None
        git = body.git
        url = check_url(
            git.url,
            allow_file=self.deployer.allow_file_urls,
            with_password=git.credential is not None and git.credential.password is not None,
        )
        ref, path = check_ref(git.ref), check_path(git.path)
        credential = None
        if git.credential is not None:
            fields = {
                "username": git.credential.username,
                "password": git.credential.password and git.credential.password.get_secret_value(),
                "ssh_private_key": git.credential.ssh_private_key
                and git.credential.ssh_private_key.get_secret_value(),
            }
            credential = {k: v for k, v in fields.items() if v}
        secret = secrets.token_urlsafe(32)
        async with self.operation(caller, env, "stack.create", body.name) as op:
            files = stack_dir(self._data_dir, op.environment, body.name)
            async with self._sessionmaker() as db:
                taken = await db.scalar(
                    select(GitStack.id).where(
                        GitStack.environment_id == op.environment.id, GitStack.name == body.name
                    )
                )
            if taken or files.root.exists():
                raise Conflict(
                    f"a stack named {body.name!r} exists on {op.environment.name}",
                    code="stack_exists",
                )
            row = GitStack(
                id=new_id(),
                org_id=caller.user.org_id,
                environment_id=op.environment.id,
                name=body.name,
                url=url,
                ref=ref,
                path=path,
                credential_sealed=credential
                and self._keyring.seal(json.dumps(credential), CREDENTIAL_CONTEXT),
                policy=body.policy,
                poll_seconds=body.poll_seconds,
                health_timeout_seconds=body.health_timeout_seconds,
                stable_seconds=body.stable_seconds,
                webhook_secret_sealed=self._keyring.seal(secret, WEBHOOK_CONTEXT),
                env_text=body.env,
            )
            repo = self.deployer.repository(row.id)
            try:
                commit, known_hosts = await repo.fetch(
                    url,
                    ref,
                    credential_of(self._keyring, row),
                    None,
                    allow_file=self.deployer.allow_file_urls,
                )
                if await repo.read(commit, path) is None:
                    raise InvalidInput(
                        f"{path} is not a file of {ref} at {commit[:12]}", field="git.path"
                    )
            except MoorageError as exc:
                repo.remove()
                if isinstance(exc, InvalidInput):
                    raise
                raise InvalidInput(exc.message, field="git.url") from exc
            row.known_hosts = known_hosts
            row.check_result = f"deploying {commit[:12]} (created)"
            async with write_session(self._sessionmaker) as db:
                db.add(row)
            op.detail = f"from {url} {ref} {path}"
        self.request(row.id, "created")
        return {**self.public(row), "webhook_secret": secret}

    async def describe(self, caller: Caller, env: str, name: str) -> dict[str, Any] | None:
        """:meth:`public` of stack ``name``, with its drift measured now; None when it
        does not come from Git."""
        target = await self.target(caller, env)
        row = await self._find(target.environment, name)
        if row is None:
            return None
        described = self.public(row)
        if row.deployed_services:
            try:
                found = await containers.list_containers(target.driver, stack=row.name)
                described["drift"] = drift_of(json.loads(row.deployed_services), found)
            except MoorageError:
                pass  # the engine is away: the stored drift stands
        return described

    async def names(self, caller: Caller, env: str) -> set[str]:
        """Names of the environment's Git stacks."""
        target = await self.target(caller, env)
        async with self._sessionmaker() as db:
            rows = await db.scalars(
                select(GitStack.name).where(GitStack.environment_id == target.environment.id)
            )
            return set(rows)

    async def check_now(self, caller: Caller, env: str, name: str) -> None:
        """Fetch and sync in the background now (audited ``stack.git_check``)."""
        async with self.operation(caller, env, "stack.git_check", name) as op:
            row = await self._owned(op.environment, name)
        self.request(row.id, f"checked by {caller.user.username}")

    async def approve(self, caller: Caller, env: str, name: str, commit: str) -> None:
        """Deploy the held commit ``commit`` in the background (audited ``stack.git_approve``).

        Raises:
            Conflict: ``commit`` is not the one waiting (code ``not_pending``).
        """
        async with self.operation(caller, env, "stack.git_approve", name, detail=commit) as op:
            row = await self._owned(op.environment, name)
            if row.pending_commit != commit:
                raise Conflict(
                    f"{commit[:12]} is not the commit waiting for approval "
                    f"({(row.pending_commit or 'none')[:12]})",
                    code="not_pending",
                )
        self.request(row.id, f"approved by {caller.user.username}", approve=commit)

    async def forget(self, caller: Caller, env: str, name: str) -> bool:
        """Drop the Git source of stack ``name`` and its repository; False (nothing done)
        for a stack not from Git. The stack's files are the stack service's to delete."""
        target = await self.target(caller, env)
        row = await self._find(target.environment, name)
        if row is None:
            return False
        task = self._tasks.pop(row.id, None)
        if task:
            task.cancel()
        async with write_session(self._sessionmaker) as db:
            await db.delete(await db.get(GitStack, row.id))
        self.deployer.repository(row.id).remove()
        return True

    def public(self, row: GitStack) -> dict[str, Any]:
        """``{url, ref, path, policy, poll_seconds, health_timeout_seconds,
        stable_seconds, commit, previous_commit, deployed_at, checked_at, check, error,
        rolled_back_commit, pending: {commit, compose_diff, env} | null, drift: [str],
        webhook_path, credential: "https" | "ssh" | null}``. Times are ISO 8601 UTC."""
        credential = credential_of(self._keyring, row)
        kind = credential and ("ssh" if credential.ssh_private_key else "https")
        return {
            "url": row.url,
            "ref": row.ref,
            "path": row.path,
            "policy": row.policy,
            "poll_seconds": row.poll_seconds,
            "health_timeout_seconds": row.health_timeout_seconds,
            "stable_seconds": row.stable_seconds,
            "credential": kind,
            "commit": row.commit,
            "previous_commit": row.previous_commit,
            "deployed_at": row.deployed_at and row.deployed_at.isoformat(),
            "checked_at": row.checked_at and row.checked_at.isoformat(),
            "check": row.check_result,
            "error": row.error,
            "rolled_back_commit": row.rolled_back_commit,
            "pending": row.pending_commit
            and {"commit": row.pending_commit, **json.loads(row.pending_diff or "{}")},
            "drift": json.loads(row.drift) if row.drift else [],
            "webhook_path": f"/api/v1/stacks/webhooks/{row.id}",
            "id": row.id,
        }

    # -- webhooks and the poller ------------------------------------------

    async def webhook(
        self, stack_id: str, headers: Mapping[str, str], body: bytes, source: str | None
    ) -> str:
        """Check a webhook's signature and ask for a sync; returns the format
        (``github``, ``gitea``, ``gitlab``). Audited ``stack.git_webhook``.

        Raises:
            NotFound: no such stack. Unauthenticated: see :func:`verify_webhook`.
        """
        async with self._sessionmaker() as db:
            row = await db.get(GitStack, stack_id)
            environment = await db.get(Environment, row.environment_id) if row else None
        if row is None or environment is None:
            raise NotFound("no such stack webhook", code="git_stack_not_found")
        secret = self._keyring.open(row.webhook_secret_sealed, WEBHOOK_CONTEXT)
        kind = verify_webhook(secret, headers, body)
        async with write_session(self._sessionmaker) as db:
            record(
                db,
                row.org_id,
                f"({kind} webhook)",
                "stack.git_webhook",
                "stack",
                row.name,
                environment=environment.name,
                source=source,
            )
        self.request(row.id, f"{kind} webhook")
        return kind

    async def poll(self) -> None:
        """Ask for a sync of every stack whose polling interval has passed (a
        reconciler job, on the leader)."""
        for stack_id in await self.deployer.due():
            self.request(stack_id, "poll")

    def request(self, stack_id: str, reason: str, *, approve: str | None = None) -> None:
        """Sync ``stack_id`` in a task of this process; while one runs, the latest
        request runs again after it (so a push during a deploy is not lost)."""
        if stack_id in self._tasks:
            previous = self._again.get(stack_id)
            self._again[stack_id] = (reason, approve or (previous and previous[1]))
            return
        task = asyncio.create_task(self._run(stack_id, reason, approve), name=f"git-{stack_id}")
        self._tasks[stack_id] = task

    async def idle(self) -> None:
        """Wait for every sync under way (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the syncs under way (process shutdown)."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    async def _run(self, stack_id: str, reason: str, approve: str | None) -> None:
        try:
            while True:
                await self.deployer.sync(stack_id, reason, approve=approve)
                if stack_id not in self._again:
                    return
                reason, approve = self._again.pop(stack_id)
        finally:
            self._tasks.pop(stack_id, None)

    async def _find(self, environment: Environment, name: str) -> GitStack | None:
        async with self._sessionmaker() as db:
            row: GitStack | None = await db.scalar(
                select(GitStack).where(
                    GitStack.environment_id == environment.id, GitStack.name == name
                )
            )
            return row

    async def _owned(self, environment: Environment, name: str) -> GitStack:
        row = await self._find(environment, name)
        if row is None:
            raise NotFound(
                f"no stack from Git named {name!r} on {environment.name}",
                code="git_stack_not_found",
            )
        return row
