"""A command broadcast to terminal sessions: run in each workspace at once, with a
result per session (the instructor view of a workshop broadcasts to its
participants).

Each session's command is ``sh -c <command>`` run through a Docker exec (no TTY,
no input) as the workspace's user, the one its terminal logs in as (the session's
account for ``ssh`` workspaces, else the template's ``shell_user``), never as root
unless the template itself says so. Inside the container the command runs under
``timeout`` when the image has it, so it is stopped at its timeout (exit 124);
Moorage stops waiting :data:`GRACE_SECONDS` later in any case.

Sessions run concurrently, at most ``concurrency`` at once; one session failing
(not ready, gone, Docker unreachable, a timeout) never stops the others: it gets
its own :class:`ExecResult` with ``error`` set. One audit event is written per
broadcast, ``session.broadcast_exec``, after every session has answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moorage.db.engine import write_session
from moorage.errors import InvalidInput, MoorageError
from moorage.models.lease import LeaseState
from moorage.models.template import TemplateKind
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.audit import record

if TYPE_CHECKING:
    from moorage.context import Context
    from moorage.models.session import WorkspaceSession

__all__ = ["GRACE_SECONDS", "MAX_OUTPUT_BYTES", "SYSTEM_ACTOR", "ExecResult", "run_in_sessions"]

MAX_OUTPUT_BYTES = 4096
"""Output kept per session."""
GRACE_SECONDS = 3.0
"""How long past its timeout Moorage still waits for a session's command."""
MAX_COMMAND_CHARS = 10_000
SYSTEM_ACTOR = "(system)"
"""The audit actor of a broadcast no signed-in user asked for (``by`` not given)."""
TIMED_OUT = 124
"""The exit code of ``timeout`` when it stopped the command."""
_TERMINALS = {TemplateKind.TERMINAL.value, TemplateKind.SSH.value}
# $1: the command, $2: its timeout in seconds. `timeout` is in coreutils and busybox.
_WRAPPER = (
    'if command -v timeout >/dev/null 2>&1; then exec timeout "$2" sh -c "$1"; '
    'else exec sh -c "$1"; fi'
)


@dataclass(frozen=True)
class ExecResult:
    """What one session's command gave.

    Attributes:
        session_id: the session.
        exit_code: the command's exit status (124 when its timeout stopped it); None
            when it did not run or Moorage stopped waiting (see ``error``).
        output: its standard output and error as they came (their order between
            the two streams is not kept), decoded as UTF-8 (bad bytes replaced), at
            most :data:`MAX_OUTPUT_BYTES` bytes of it.
        error: why the session has no exit code or the command was stopped (not
            ready, not a terminal workspace, Docker unreachable, timed out); None
            when it ran to its end.
        truncated: True when the command printed more than was kept.
    """

    session_id: str
    exit_code: int | None
    output: str
    error: str | None
    truncated: bool = False


async def run_in_sessions(
    ctx: Context,
    sessions: Sequence[WorkspaceSession],
    command: str,
    *,
    timeout_seconds: float = 30,
    concurrency: int = 10,
    by: User | None = None,
    source: str | None = None,
) -> list[ExecResult]:
    """Run ``command`` (``sh -c``) in each of ``sessions`` at once and answer one
    result per session, in the order given.

    Args:
        ctx: the process's :class:`~moorage.context.Context` (``app.state.context``;
            its drivers run the commands, its database keeps the audit event).
        sessions: rows read with their template and environment (as
            :class:`~moorage.services.sessions.SessionService` reads them). The caller
            has decided that ``by`` may run commands in each (an instructor in their
            workshop's sessions); sessions of another org than ``by``'s are refused
            here all the same. ``ready`` sessions of kind ``terminal`` or ``ssh`` run
            the command; others get an ``error``.
        command: the shell command line, 1 to 10,000 characters.
        timeout_seconds: the longest one session's command may run (> 0).
        concurrency: sessions run at once (≥ 1).
        by: who asked, for the audit event and the role check; None for a job of
            Moorage's own (the event's actor is then :data:`SYSTEM_ACTOR`).
        source: the client's address, for the audit event.

    Raises:
        InvalidInput: an empty or too long ``command``, a ``timeout_seconds`` ≤ 0 or a
            ``concurrency`` < 1 (naming the field); nothing has run then.
        Forbidden: ``by`` is below the instructor role; nothing has run then.
    """
    if not command.strip() or len(command) > MAX_COMMAND_CHARS:
        raise InvalidInput(f"command must be 1 to {MAX_COMMAND_CHARS} characters", field="command")
    if not timeout_seconds > 0:
        raise InvalidInput("timeout_seconds must be more than 0", field="timeout_seconds")
    if concurrency < 1:
        raise InvalidInput("concurrency must be at least 1", field="concurrency")
    if by is not None:
        require_role(by, Role.INSTRUCTOR)
    if not sessions:
        return []
    slots = asyncio.Semaphore(concurrency)

    async def one(session: WorkspaceSession) -> ExecResult:
        async with slots:
            return await _run_in(ctx, session, command, timeout_seconds, by)

    results = list(await asyncio.gather(*(one(session) for session in sessions)))
    await _audit(ctx, sessions, command, results, by, source)
    return results


async def _run_in(
    ctx: Context,
    session: WorkspaceSession,
    command: str,
    timeout_seconds: float,
    by: User | None,
) -> ExecResult:
    """One session's result; never raises but for cancellation."""

    def refused(error: str) -> ExecResult:
        return ExecResult(session.id, None, "", error)

    if by is not None and session.org_id != by.org_id:
        return refused("no such session")
    if session.template.kind not in _TERMINALS:
        return refused(f"a {session.template.kind} workspace runs no broadcast commands")
    if session.state != LeaseState.READY.value or not session.container_id:
        return refused(f"the session is {session.state}")
    user = session.account or session.template.shell_user
    seconds = f"{timeout_seconds:g}"
    started = time.monotonic()
    try:
        driver = ctx.drivers.get(session.environment)
        async with asyncio.timeout(timeout_seconds + GRACE_SECONDS):
            result = await driver.run_command(
                session.container_id,
                ["sh", "-c", _WRAPPER, "moorage-broadcast", command, seconds],
                user=user,
                max_output_bytes=MAX_OUTPUT_BYTES,
            )
    except TimeoutError:
        return refused(f"no answer within {seconds} s")
    except MoorageError as exc:
        return refused(exc.message)
    error = None
    if result.exit_code == TIMED_OUT and time.monotonic() - started >= timeout_seconds:
        error = f"stopped after {seconds} s"
    return ExecResult(
        session.id,
        result.exit_code,
        result.output.decode(errors="replace"),
        error,
        result.truncated,
    )


async def _audit(
    ctx: Context,
    sessions: Sequence[WorkspaceSession],
    command: str,
    results: list[ExecResult],
    by: User | None,
    source: str | None,
) -> None:
    """One ``session.broadcast_exec`` event: object ``*`` (several sessions), the
    detail counts the outcomes, then gives the command and the session ids (cut to
    the column's size)."""
    succeeded = sum(1 for r in results if r.exit_code == 0 and r.error is None)
    failed = sum(1 for r in results if r.exit_code not in (0, None) and r.error is None)
    detail = (
        f"{len(results)} sessions: {succeeded} exit 0, {failed} exit non-zero, "
        f"{len(results) - succeeded - failed} not run or stopped; command: {command[:500]}; "
        f"sessions: {' '.join(s.id for s in sessions)}"
    )
    org_id = by.org_id if by is not None else sessions[0].org_id
    actor = by.username if by is not None else SYSTEM_ACTOR
    async with write_session(ctx.sessionmaker) as db:
        record(
            db,
            org_id,
            actor,
            "session.broadcast_exec",
            "session",
            "*",
            detail=detail,
            source=source,
        )
