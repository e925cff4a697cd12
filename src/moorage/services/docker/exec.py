"""Exec terminals into any running container of an environment (operators), with a
choice of shell and user. Opening one is audited as ``container.exec``."""

from __future__ import annotations

import re

from moorage.drivers.base import TerminalStream
from moorage.errors import InvalidInput
from moorage.services.docker._operation import Caller, DockerService

__all__ = ["SHELLS", "ExecService"]

SHELLS = ("/bin/bash", "/bin/sh", "/bin/ash", "/bin/zsh")
USER_PATTERN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$|^[0-9]{1,10}(:[0-9]{1,10})?$")


class ExecService(DockerService):
    """Terminals in containers (a Docker exec with a TTY)."""

    async def open_terminal(
        self,
        caller: Caller,
        env: str,
        ref: str,
        *,
        shell: str,
        user: str = "",
        cols: int = 80,
        rows: int = 24,
    ) -> TerminalStream:
        """Start ``shell`` (one of :data:`SHELLS`) as ``user`` (a name or uid[:gid]; the
        image's default when empty) with a ``cols`` × ``rows`` TTY (each clamped to
        1…1000). The caller closes the stream.

        Raises:
            Forbidden: below operator. InvalidInput: a bad shell or user.
            NotFound: no such environment or container. Conflict: not running.
            RuntimeUnavailable: the engine cannot be reached.
        """
        self.authorize(caller)
        if shell not in SHELLS:
            raise InvalidInput(f"shell must be one of {', '.join(SHELLS)}", field="shell")
        if user and not USER_PATTERN.match(user):
            raise InvalidInput("user must be a user name or uid[:gid]", field="user")
        cols, rows = max(1, min(cols, 1000)), max(1, min(rows, 1000))
        detail = f"{shell} as {user or 'default user'}"
        async with self.operation(caller, env, "container.exec", ref, detail=detail) as op:
            terminal = await op.driver.open_terminal(
                ref, user=user, command=[shell], cols=cols, rows=rows
            )
        return terminal
