"""Shells opened ahead in warm workspaces of terminal templates.

A warm workspace's id is its session's (:mod:`moorage.services.warm_pools`). Once
a warm workspace of a terminal template is usable, and before it can be claimed,
the warm pool tells :func:`spare_shells`, which opens its login shell (a Docker
exec with a TTY, as the template's shell user) and keeps it here. The session's
first attachment after the claim takes that shell, its prompt already written
(:meth:`~moorage.gateway.terminal_hold.TerminalHolds.hold`), instead of waiting
for an exec and a login shell while a whole class claims at once.

* Nothing reaches a spare before the claim: the gateway admits sessions only, and
  it is the same shell, as the same user, that the first attachment would open.
* A spare is closed when its warm workspace is recycled or abandoned, when its
  session ends before anyone attached, and when the server stops. At most
  :data:`MAX_SPARES` are kept.
* Spares live in this server process's memory, like held terminals: with a
  separate ``moorage worker`` (which runs the warm pools there) none are opened,
  and a first attachment opens its shell as usual.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from moorage.drivers.base import ContainerDriver, TerminalStream
from moorage.errors import MoorageError
from moorage.models.template import Template, TemplateKind
from moorage.services.warm_pools import WarmReady

__all__ = ["MAX_SPARES", "SPARE_SIZE", "SpareShells", "spare_shells"]

log = logging.getLogger(__name__)

MAX_SPARES = 500
"""Shells opened ahead that a server keeps at most."""
SPARE_SIZE = (80, 24)
"""``(cols, rows)`` of a shell opened ahead; its first attachment resizes it."""

Opener = Callable[[int, int], Awaitable[TerminalStream]]


class SpareShells:
    """Shells opened ahead, by warm workspace id (module docstring)."""

    def __init__(self) -> None:
        self._spares: dict[str, tuple[str, TerminalStream]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._spares)

    async def prestart(self, warm_id: str, container_id: str, open_shell: Opener) -> None:
        """Open a shell of :data:`SPARE_SIZE` with ``open_shell`` for the warm
        workspace ``warm_id`` in container ``container_id``; one already there is kept.

        Raises:
            whatever ``open_shell`` raises (nothing is kept then).
        """
        if warm_id in self._spares or len(self._spares) >= MAX_SPARES:
            return
        stream = await open_shell(*SPARE_SIZE)
        if warm_id in self._spares:  # opened twice at once: keep the first
            await stream.close()
            return
        self._spares[warm_id] = (container_id, stream)

    async def take(self, session_id: str, container_id: str | None) -> TerminalStream | None:
        """The shell opened ahead for ``session_id`` in its container
        ``container_id``, now the caller's; None when there is none (one opened in
        another container is closed)."""
        spare = self._spares.pop(session_id, None)
        if spare is None:
            return None
        if spare[0] != container_id:
            await spare[1].close()
            return None
        return spare[1]

    async def drop(self, warm_id: str) -> None:
        """Close the shell opened ahead for ``warm_id``, if any (its workspace was
        recycled or abandoned); a :data:`~moorage.services.warm_pools.WarmGone`."""
        spare = self._spares.pop(warm_id, None)
        if spare is not None:
            await spare[1].close()

    def deadline_changed(self, session_id: str, expires_at: datetime | None) -> None:
        """A :data:`~moorage.services.leases.DeadlineListener`: a session that ended
        (None) before anyone attached loses its shell opened ahead."""
        if expires_at is None and session_id in self._spares:
            task = asyncio.get_running_loop().create_task(self.drop(session_id))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        """Close every shell opened ahead (the server is stopping)."""
        for warm_id in list(self._spares):
            await self.drop(warm_id)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def spare_shells(spares: SpareShells, command: list[str]) -> WarmReady:
    """The warm pools' :data:`~moorage.services.warm_pools.WarmReady` hook: a warm
    workspace of a terminal template gets ``command`` (the gateway's login shell)
    opened ahead as the template's shell user; when Docker refuses, its first
    attachment opens one as usual."""

    async def prestart(
        warm_id: str, template: Template, driver: ContainerDriver, container_id: str
    ) -> None:
        if template.kind != TemplateKind.TERMINAL.value:
            return

        async def open_shell(cols: int, rows: int) -> TerminalStream:
            return await driver.open_terminal(
                container_id, user=template.shell_user, command=command, cols=cols, rows=rows
            )

        try:
            await spares.prestart(warm_id, container_id, open_shell)
        except MoorageError as exc:
            log.info("warm workspace %s: no shell opened ahead: %s", warm_id, exc.message)

    return prestart
