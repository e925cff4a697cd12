"""A held terminal's screen as it looks now, emulated with pyte from the shell's
output, for thumbnails.

The held terminal (:mod:`moorage.gateway.terminal_hold`) keeps its recent output in
a numbered ring buffer. :class:`TerminalScreens` keeps one pyte screen per watched
session and feeds it only the bytes written since its last look, so a screen
watched every 5 s costs what its shell printed in those 5 s, not a replay of the
whole buffer. A new screen (first look, a new shell, or more than
:data:`REPLAY_BYTES` printed since the last look) replays at most that much of the
buffer's tail, from the last full-screen clear in it when there is one, else from
a line start: pyte is pure Python (about 2 ms per KiB here), and the tail is what
shows. The screen takes the TTY's size (:attr:`HeldTerminal.size`).

pyte is imported on the first look, never at server start. Parsing runs in a
worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moorage.gateway.thumbnail_svg import screen_svg

if TYPE_CHECKING:
    from moorage.gateway.terminal_hold import HeldTerminal

__all__ = ["IDLE_SECONDS", "REPLAY_BYTES", "TerminalScreens", "replay_start"]

REPLAY_BYTES = 16 * 1024
"""The most output a new screen replays."""
IDLE_SECONDS = 60.0
"""A screen not looked at for this long is dropped (its memory, not the shell)."""
CLEARS = (b"\x1bc", b"\x1b[2J", b"\x1b[H\x1b[J", b"\x1b[?1049h")
"""Sequences after which what came before no longer shows: full reset, erase display,
home and erase below, the alternate screen (``clear``, ``reset``, full-screen programs)."""


def replay_start(tail: bytes, first: int) -> int:
    """Where a new screen starts its replay, as a byte number, given ``tail``: the
    last kept output (at most :data:`REPLAY_BYTES`), whose first byte is number
    ``first``. The last full-screen clear in ``tail`` when there is one; else byte 0
    when ``tail`` is the whole output (``first == 0``); else the first line start in
    ``tail`` (``first`` when no newline is in it)."""
    clear = max(tail.rfind(sequence) for sequence in CLEARS)
    if clear >= 0:
        return first + clear
    if first == 0:
        return 0
    newline = tail.find(b"\n")
    return first + newline + 1 if newline >= 0 else first


@dataclass
class _Screen:
    """One watched session's emulated screen and how far its output was fed."""

    shell_id: str
    screen: Any  # pyte.Screen
    stream: Any  # pyte.ByteStream
    offset: int
    """The number of the next output byte to feed."""
    looked_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    drawn: tuple[int, tuple[int, int], bytes] | None = None
    """``(offset, size, svg)`` of the last drawing: reused while nothing changed."""


class TerminalScreens:
    """Emulated screens of held terminals, by session.

    Args:
        clock: monotonic seconds; injected for tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._screens: dict[str, _Screen] = {}

    def __len__(self) -> int:
        return len(self._screens)

    async def svg(self, held: HeldTerminal) -> bytes:
        """The SVG (UTF-8) of ``held``'s screen now (:func:`~.thumbnail_svg.screen_svg`)."""
        now = self._clock()
        self._forget_idle(now)
        state = self._screens.get(held.session_id)
        if state is None or state.shell_id != held.shell_id:
            state = self._new_screen(held, now)
        async with state.lock:
            buffer = held.buffer
            if buffer.end - state.offset > REPLAY_BYTES or state.offset < buffer.start:
                # Much more was printed since the last look: the tail is what shows.
                state.screen, state.stream, state.offset = self._replay_from_tail(held)
                state.drawn = None
            state.looked_at = now
            size = held.size
            if state.drawn is not None and state.drawn[:2] == (buffer.end, size):
                return state.drawn[2]  # nothing printed and no resize since
            first, data = buffer.since(state.offset)
            state.offset = first + len(data)
            svg = await asyncio.to_thread(_feed_and_draw, state, data, *size)
            state.drawn = (state.offset, size, svg)
            return svg

    def _new_screen(self, held: HeldTerminal, now: float) -> _Screen:
        screen, stream, offset = self._replay_from_tail(held)
        state = _Screen(held.shell_id, screen, stream, offset, now)
        self._screens[held.session_id] = state
        return state

    @staticmethod
    def _replay_from_tail(held: HeldTerminal) -> tuple[Any, Any, int]:
        """A blank pyte screen of the TTY's size, its stream, and the byte to feed it
        from (:func:`replay_start`)."""
        import pyte

        cols, rows = held.size
        screen = pyte.Screen(cols, rows)
        buffer = held.buffer
        first, tail = buffer.since(max(buffer.start, buffer.end - REPLAY_BYTES))
        return screen, pyte.ByteStream(screen), replay_start(tail, first)

    def _forget_idle(self, now: float) -> None:
        for session_id in [
            key for key, state in self._screens.items() if now - state.looked_at > IDLE_SECONDS
        ]:
            del self._screens[session_id]


def _feed_and_draw(state: _Screen, data: bytes, cols: int, rows: int) -> bytes:
    """Resize ``state``'s screen to the TTY's, feed it ``data`` and draw it (in a
    worker thread; the caller holds the screen's lock)."""
    screen = state.screen
    if (screen.columns, screen.lines) != (cols, rows):
        screen.resize(lines=rows, columns=cols)
    if data:
        state.stream.feed(data)
    return screen_svg(screen)
