"""The gateway's tap on a session's streams: activity (its idle timeout) and, when
the session is recorded, its recording.

* Terminals: a held terminal (:mod:`moorage.gateway.terminal_hold`) hands its
  output, the keys written to it and its sizes to a :class:`SessionTap`, opened
  with the shell and closed with it (one recording per shell). Keys are activity.
* Desktops: :func:`tap_desktop` wraps the VNC server's reader (the RFB
  server-to-client stream is recorded from ServerInit on) and writer (client
  messages are parsed: key, pointer and clipboard messages are activity; noVNC's
  framebuffer update requests, sent while a tab merely shows the desktop, are not).

Nothing here blocks: output is appended to the recording's batch, written by a
thread (:mod:`moorage.services.recording_files`).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING, cast

from moorage.services.recording_files import AsciicastWriter
from moorage.services.recordings import ActiveRecording

if TYPE_CHECKING:
    from moorage.context import Context
    from moorage.models.session import WorkspaceSession
    from moorage.services.activity import Activity

__all__ = ["RfbClientMessages", "SessionTap", "open_terminal_tap", "tap_desktop"]

log = logging.getLogger(__name__)


class SessionTap:
    """Activity and the recording (None: not recorded) of one stream of a session."""

    def __init__(
        self,
        context: Context,
        session_id: str,
        activity: Activity,
        recording: ActiveRecording | None,
    ) -> None:
        self._context = context
        self.session_id = session_id
        self._activity = activity
        self.recording = recording
        self._closed = False

    def output(self, data: bytes) -> None:
        """Bytes the workspace sent to the viewer: recorded."""
        if self.recording is not None:
            self.recording.writer.output(data)

    def input(self, data: bytes) -> None:
        """Keys the viewer sent: activity, and recorded when the policy keeps input."""
        self._activity.touch(self.session_id)
        if self.recording is not None and self.recording.with_input:
            self.recording.writer.input(data)

    def activity(self) -> None:
        """Something the viewer did that is not recorded (a desktop's pointer)."""
        self._activity.touch(self.session_id)

    def resize(self, cols: int, rows: int) -> None:
        """The terminal's new size."""
        writer = self.recording.writer if self.recording is not None else None
        if isinstance(writer, AsciicastWriter):
            writer.resize(cols, rows)

    async def close(self) -> None:
        """Finish the recording; idempotent; never raises."""
        if self._closed or self.recording is None:
            return
        self._closed = True
        try:
            await self._context.recordings.finish(self.recording)
        except Exception:
            log.exception("recording %s: finishing failed", self.recording.id)


async def open_terminal_tap(
    context: Context, session: WorkspaceSession, cols: int, rows: int
) -> SessionTap:
    """The tap of a new shell of ``session`` (recorded when the session is)."""
    recording = None
    if session.recorded:
        recording = await context.recordings.start(session, "terminal", width=cols, height=rows)
    return SessionTap(context, session.id, context.sessions.activity, recording)


# -- desktops -------------------------------------------------------------------------

_FIXED = {0: 20, 3: 10, 4: 8, 5: 6, 150: 10}
"""Client message types of RFC 6143 (and extensions noVNC sends) with a fixed length."""
_PERSON = {4, 5, 6}
"""KeyEvent, PointerEvent, ClientCutText: a person at the desktop."""


class RfbClientMessages:
    """Splits the RFB client-to-server stream into messages (RFC 6143 7.5) and tells
    whether a chunk held a person's message. ``after_init``: the 1-byte ClientInit
    was already sent. A message type it does not know makes every later chunk count
    (it cannot find the next message's start again)."""

    def __init__(self, *, after_init: bool) -> None:
        self._buffer = b""
        self._skip_init = not after_init
        self.lost = False

    def feed(self, data: bytes) -> bool:
        """Add ``data``; True when it completes or carries a person's message."""
        if self.lost:
            return True
        self._buffer += data
        if self._skip_init and self._buffer:
            self._buffer, self._skip_init = self._buffer[1:], False
        person = False
        while self._buffer:
            length = self._length(self._buffer)
            if length is None:
                if self.lost:
                    return True
                break  # wait for the rest of the message
            person = person or self._buffer[0] in _PERSON
            self._buffer = self._buffer[length:]
        # A message still arriving counts too when it is a person's.
        return person or (bool(self._buffer) and self._buffer[0] in _PERSON)

    def _length(self, buffer: bytes) -> int | None:
        kind = buffer[0]
        if kind in _FIXED:
            length = _FIXED[kind]
        elif kind == 2:  # SetEncodings: u8 type, pad, u16 count, s32 × count
            if len(buffer) < 4:
                return None
            length = 4 + 4 * struct.unpack_from(">H", buffer, 2)[0]
        elif kind == 6:  # ClientCutText: u8 type, 3 pad, u32 length, text
            if len(buffer) < 8:
                return None
            length = 8 + struct.unpack_from(">I", buffer, 4)[0]
        elif kind == 248:  # ClientFence: type, 3 pad, u32 flags, u8 length, payload
            if len(buffer) < 9:
                return None
            length = 9 + buffer[8]
        elif kind == 251:  # SetDesktopSize: type, pad, w, h, u8 count, pad, 16 × count
            if len(buffer) < 8:
                return None
            length = 8 + 16 * buffer[6]
        elif kind == 255 and len(buffer) >= 2 and buffer[1] == 0:  # QEMU extended key
            length = 12
        else:
            self.lost = True
            return None
        return length if len(buffer) >= length else None


class _TappedReader:
    """The VNC server's reader; what it reads is recorded."""

    def __init__(self, reader: asyncio.StreamReader, tap: SessionTap) -> None:
        self._reader = reader
        self._tap = tap

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        if data:
            self._tap.output(data)
        return data


class _TappedWriter:
    """The VNC server's writer; a person's messages through it are activity."""

    def __init__(
        self, writer: asyncio.StreamWriter, tap: SessionTap, messages: RfbClientMessages
    ) -> None:
        self._writer = writer
        self._tap = tap
        self._messages = messages

    def write(self, data: bytes) -> None:
        if self._messages.feed(data):
            self._tap.activity()
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()


async def tap_desktop(
    context: Context,
    session: WorkspaceSession,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    after_init: bool,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, SessionTap]:
    """``(reader, writer, tap)``: the VNC server's streams, tapped, once the browser's
    handshake is done (``after_init``: its ClientInit was already written). Close
    the tap when the connection ends."""
    recording = None
    if session.recorded:
        recording = await context.recordings.start(session, "desktop", width=0, height=0)
    tap = SessionTap(context, session.id, context.sessions.activity, recording)
    messages = RfbClientMessages(after_init=after_init)
    tapped_reader = _TappedReader(reader, tap) if recording is not None else reader
    # The wrappers have the methods the bridge calls (read; write, drain, close).
    return (
        cast("asyncio.StreamReader", tapped_reader),
        cast("asyncio.StreamWriter", _TappedWriter(writer, tap, messages)),
        tap,
    )
