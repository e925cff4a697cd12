"""Held terminals: a session's shell outlives the websocket that started it.

The design is that of Coder's reconnecting PTYs (``agent/reconnectingpty``): the
server holds the shell's stream (a Docker exec with a TTY, or the SSH login of an
``ssh`` workspace: a :class:`~moorage.drivers.base.TerminalStream`) and keeps its
recent output in a ring buffer, so a page refresh, a network blip, "+30 min" or a
second tab attaches to the *same* shell and sees its screen again.

* One :class:`HeldTerminal` per session, shared by every websocket attached to it
  (a second tab sees and types into the same shell, like ``tmux attach``). Output
  is fanned out to each attachment's own queue
  (:class:`~moorage.gateway.terminal_attachment.Attachment`), so a slow client never
  holds the shell back; one that falls
  :data:`~moorage.gateway.terminal_attachment.MAX_QUEUED_BYTES` behind is detached
  (it reconnects and gets the replay).
* Output bytes are numbered from 0 for the life of the shell. The last
  :data:`BUFFER_BYTES` are kept (:class:`~moorage.gateway.terminal_buffer.RingBuffer`);
  an attachment gets them
  first, from the byte a resuming client names or from the oldest kept.
* The TTY takes the size of the latest attachment still attached (observers'
  attachments, which do not steer, aside).
* A held terminal ends when its shell exits (attachments close 1000), when its
  session ends (4409: the session service's deadline listener tells
  :meth:`TerminalHolds.deadline_changed` in this process, and past the deadline the
  terminal asks its ``still_live`` callback, which covers a release made by another
  process), or when the server stops. It does *not* end when its last websocket
  goes: it waits, detached, until then.

Held terminals live in this server process's memory. With several server
processes (``moorage serve --workers N``, or replicas behind a proxy) a reconnect
that reaches another process starts a new shell there, and the first one stays held,
unseen, until its session ends. Route a session's websockets to one process (sticky
by the session id in the path) to keep reconnects on their shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from moorage.drivers.base import TerminalStream
from moorage.gateway.terminal_attachment import (
    CLOSE_SERVER_STOPPING,
    CLOSE_SESSION_ENDED,
    CLOSE_SHELL_EXITED,
    CLOSE_TOO_SLOW,
    Attachment,
)
from moorage.gateway.terminal_buffer import BUFFER_BYTES, RingBuffer
from moorage.gateway.terminal_spares import SpareShells

__all__ = ["HeldTerminal", "TerminalHolds"]

log = logging.getLogger(__name__)


class Tap(Protocol):
    """What a held terminal tells of its traffic (:class:`~moorage.gateway.session_tap.SessionTap`:
    activity and the recording). Called on the hot path: must not block."""

    def output(self, data: bytes) -> None: ...
    def input(self, data: bytes) -> None: ...
    def resize(self, cols: int, rows: int) -> None: ...
    async def close(self) -> None: ...


StillLive = Callable[[], Awaitable[datetime | None]]
"""Asked past a held terminal's deadline: the session's ``expires_at`` (UTC) while
it is ready, None once it is not (or is gone)."""


class HeldTerminal:
    """A session's shell held by the server, with its attachments.

    Args:
        session_id: the session.
        stream: the shell, already open; the held terminal owns it from now on.
        expires_at: the session's deadline (UTC).
        still_live: see :data:`StillLive`.
        on_end: called with the held terminal once it has ended.
        buffer_bytes: output kept for replay.
        clock: current UTC time; injected for tests.
        tap: told of output, keys and sizes; closed with the terminal.
        size: ``(cols, rows)`` of the TTY the shell was opened with.
    """

    def __init__(
        self,
        session_id: str,
        stream: TerminalStream,
        *,
        expires_at: datetime,
        still_live: StillLive,
        on_end: Callable[[HeldTerminal], None] = lambda held: None,
        buffer_bytes: int = BUFFER_BYTES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tap: Tap | None = None,
        size: tuple[int, int] = (80, 24),
    ) -> None:
        self._tap = tap
        self.size = size
        """``(cols, rows)`` of the TTY now (screen thumbnails replay the output at it)."""
        self.session_id = session_id
        self.shell_id = secrets.token_hex(8)
        """Names this shell to resuming clients (a new shell gets a new id)."""
        self.buffer = RingBuffer(buffer_bytes)
        self.expires_at = expires_at
        self.closed = False
        self._stream = stream
        self._still_live = still_live
        self._on_end = on_end
        self._clock = clock
        self._attachments: list[Attachment] = []
        self._moved = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"terminal {session_id}")
        self._watcher = asyncio.create_task(self._watch_deadline(), name=f"deadline {session_id}")

    @property
    def attachments(self) -> int:
        """How many websockets are attached now."""
        return len(self._attachments)

    # -- attaching ---------------------------------------------------------------

    def attach(
        self,
        cols: int,
        rows: int,
        *,
        shell: str | None = None,
        offset: int | None = None,
        steers: bool = True,
    ) -> tuple[Attachment, int, bytes]:
        """Attach a client: ``(attachment, first, replay)``, where ``replay`` is the kept
        output from byte ``offset`` when ``shell`` names this shell and that byte is
        still kept, else from the oldest kept byte, and ``first`` is its first byte's
        number. Everything written after ``replay`` reaches the attachment's queue.
        Synchronous, so no output falls between the replay and the queue. Call
        :meth:`apply_size` next. An attachment that does not ``steer`` (an observer's)
        never gives the TTY its size.

        Raises:
            RuntimeError: the held terminal has ended.
        """
        if self.closed:
            raise RuntimeError("the held terminal has ended")
        first, replay = self.buffer.since(offset if shell == self.shell_id else None)
        attachment = Attachment(cols, rows, steers=steers)
        self._attachments.append(attachment)
        return attachment, first, replay

    async def detach(self, attachment: Attachment) -> None:
        """Forget ``attachment`` (its websocket went); the TTY takes the size of the
        latest one left. The shell stays."""
        if attachment not in self._attachments:
            return
        was_latest = attachment is self._steering()
        self._attachments.remove(attachment)
        if was_latest and not self.closed:
            await self.apply_size()

    async def resize(self, attachment: Attachment, cols: int, rows: int) -> None:
        """Record ``attachment``'s size; the TTY follows when it is the latest attached
        (that steers)."""
        attachment.size = (cols, rows)
        if attachment is self._steering():
            await self.apply_size()

    async def apply_size(self) -> None:
        """Give the TTY the size of the latest attachment that steers."""
        latest = self._steering()
        if latest is not None and not self.closed:
            await self._stream.resize(*latest.size)
            self.size = latest.size
            if self._tap is not None:
                self._tap.resize(*latest.size)

    def _steering(self) -> Attachment | None:
        """The latest attachment whose size the TTY takes, if any."""
        return next((a for a in reversed(self._attachments) if a.steers), None)

    async def write(self, data: bytes) -> None:
        """Send ``data`` (keystrokes) to the shell."""
        if not self.closed:
            if self._tap is not None:
                self._tap.input(data)
            await self._stream.write(data)

    # -- the deadline --------------------------------------------------------------

    def move_deadline(self, expires_at: datetime) -> None:
        """The session's deadline moved (an extension): wait for the new one."""
        self.expires_at = expires_at
        self._moved.set()

    async def _watch_deadline(self) -> None:
        """At the deadline, end the shell unless ``still_live`` gives a later one."""
        while not self.closed:
            self._moved.clear()
            delay = (self.expires_at - self._clock()).total_seconds()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._moved.wait(), timeout=delay)
                continue
            try:
                live = await self._still_live()
            except Exception:
                log.exception("terminal of session %s: cannot read the session", self.session_id)
                live = self.expires_at
            if live is None or live <= self._clock():
                # Access ends at the deadline, not when the reconciler releases the
                # session (moorage.gateway.deadline).
                await self.close(*CLOSE_SESSION_ENDED)
                return
            self.expires_at = live  # extended elsewhere (another process)

    # -- output and the end ----------------------------------------------------------

    async def _read(self) -> None:
        try:
            while (chunk := await self._stream.read()) is not None:
                self.buffer.write(chunk)
                if self._tap is not None:
                    self._tap.output(chunk)
                for attachment in list(self._attachments):
                    if not attachment.offer(chunk):
                        attachment.end(*CLOSE_TOO_SLOW, drop_pending=True)
                        self._attachments.remove(attachment)
        except Exception as exc:  # the runtime's stream broke: the shell is gone for us
            log.warning("terminal of session %s: the stream failed: %r", self.session_id, exc)
        await self.close(*CLOSE_SHELL_EXITED)

    async def close(self, code: int, reason: str) -> None:
        """End the held terminal: attachments get what is queued, then close with
        ``code`` and ``reason``; the shell is hung up. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for attachment in self._attachments:
            attachment.end(code, reason)
        self._attachments.clear()
        current = asyncio.current_task()
        for task in (self._reader, self._watcher):
            if task is not current:
                task.cancel()
        try:
            await self._stream.close()
        except Exception as exc:
            log.warning("terminal of session %s: closing failed: %r", self.session_id, exc)
        if self._tap is not None:
            await self._tap.close()
        self._on_end(self)


Opener = Callable[[int, int], Awaitable[TerminalStream]]
"""Opens a new shell with a TTY of ``(cols, rows)``."""
TapOpener = Callable[[int, int], Awaitable[Tap]]
"""Opens the tap of a new shell with a TTY of ``(cols, rows)``."""


class TerminalHolds:
    """The held terminals of this server process, one per session.

    Args:
        buffer_bytes: output kept for replay per terminal.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        *,
        buffer_bytes: int = BUFFER_BYTES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._buffer_bytes = buffer_bytes
        self._clock = clock
        self._held: dict[str, HeldTerminal] = {}
        self.spares = SpareShells()
        """Shells opened ahead in warm workspaces, for their sessions' first attachments."""
        self._opening: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, session_id: str) -> HeldTerminal | None:
        """The live held terminal of ``session_id``, if any."""
        held = self._held.get(session_id)
        return held if held is not None and not held.closed else None

    async def hold(
        self,
        session_id: str,
        *,
        open_shell: Opener,
        cols: int,
        rows: int,
        expires_at: datetime,
        still_live: StillLive,
        open_tap: TapOpener | None = None,
    ) -> HeldTerminal:
        """The session's held terminal, opening a shell with ``open_shell(cols, rows)``
        when none is live (and its tap with ``open_tap(cols, rows)``). Two callers at
        once get the same one. The result is live
        when this returns: attach to it before awaiting anything else.

        Raises:
            whatever ``open_shell`` raises (nothing is held then).
        """
        lock = self._opening.setdefault(session_id, asyncio.Lock())
        async with lock:
            held = self.get(session_id)
            if held is None:
                stream = await open_shell(cols, rows)
                try:
                    tap = await open_tap(cols, rows) if open_tap is not None else None
                except BaseException:
                    await stream.close()
                    raise
                held = HeldTerminal(
                    session_id,
                    stream,
                    expires_at=expires_at,
                    still_live=still_live,
                    on_end=self._forget,
                    buffer_bytes=self._buffer_bytes,
                    clock=self._clock,
                    tap=tap,
                    size=(cols, rows),
                )
                self._held[session_id] = held
            else:
                held.move_deadline(expires_at)
        return held

    def _forget(self, held: HeldTerminal) -> None:
        if self._held.get(held.session_id) is held:
            del self._held[held.session_id]
        lock = self._opening.get(held.session_id)
        if lock is not None and not lock.locked():
            del self._opening[held.session_id]

    def deadline_changed(self, session_id: str, expires_at: datetime | None) -> None:
        """A :data:`~moorage.services.leases.DeadlineListener`: a new deadline is
        passed on; None (the session ended or failed) ends its held terminal (4409)."""
        self.spares.deadline_changed(session_id, expires_at)
        held = self.get(session_id)
        if held is None:
            return
        if expires_at is not None:
            held.move_deadline(expires_at)
            return
        task = asyncio.get_running_loop().create_task(held.close(*CLOSE_SESSION_ENDED))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        """End every held terminal and close the shells opened ahead (the server is
        stopping)."""
        await self.spares.close_all()
        for held in list(self._held.values()):
            await held.close(*CLOSE_SERVER_STOPPING)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
