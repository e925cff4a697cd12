"""A websocket's attachment to a held terminal (:mod:`moorage.gateway.terminal_hold`):
its own queue of the shell's output, the size its client asked for, and the code
and reason it was closed with.

The queue is bounded in bytes (:data:`MAX_QUEUED_BYTES`): output the client has not
taken yet counts against it, and an attachment that would go past it is detached
(:data:`CLOSE_TOO_SLOW`) rather than holding the shell back.
"""

from __future__ import annotations

import asyncio

from moorage.gateway.terminal_buffer import BUFFER_BYTES

__all__ = [
    "CLOSE_SERVER_STOPPING",
    "CLOSE_SESSION_ENDED",
    "CLOSE_SHELL_EXITED",
    "CLOSE_TOO_SLOW",
    "MAX_QUEUED_BYTES",
    "Attachment",
]

MAX_QUEUED_BYTES = 4 * BUFFER_BYTES
"""Output an attachment may fall behind by before it is detached."""

CLOSE_SHELL_EXITED = (1000, "the shell exited")
CLOSE_SESSION_ENDED = (4409, "the session ended")
CLOSE_TOO_SLOW = (1013, "the terminal's output outran this connection; reconnect")
CLOSE_SERVER_STOPPING = (1001, "the server is stopping")


class Attachment:
    """One websocket's view of a held terminal: a queue of output chunks (``None``
    ends it), the size its client asked for, and why it was closed.

    Read :attr:`queue` until ``None``, then close the websocket with
    :attr:`close_code` and :attr:`close_reason`.
    """

    def __init__(self, cols: int, rows: int, *, steers: bool = True) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.size = (cols, rows)
        self.steers = steers
        """False for an observer's attachment: its size never reaches the TTY."""
        self.close_code, self.close_reason = CLOSE_SHELL_EXITED
        self._queued = 0
        self.ended = False

    def offer(self, chunk: bytes) -> bool:
        """Queue ``chunk``; False (and nothing queued) when that would leave the client
        more than :data:`MAX_QUEUED_BYTES` behind."""
        if self.ended:
            return True
        if self._queued + len(chunk) > MAX_QUEUED_BYTES:
            return False
        self._queued += len(chunk)
        self.queue.put_nowait(chunk)
        return True

    def taken(self, chunk: bytes) -> None:
        """Tell the attachment ``chunk`` left its queue (for the backlog count)."""
        self._queued -= len(chunk)

    def end(self, code: int, reason: str, *, drop_pending: bool = False) -> None:
        """Close the attachment after what is queued (or at once, ``drop_pending``)."""
        if self.ended:
            return
        self.ended = True
        self.close_code, self.close_reason = code, reason
        if drop_pending:
            while not self.queue.empty():
                self.queue.get_nowait()
            self._queued = 0
        self.queue.put_nowait(None)
