"""The files of recordings, written as the bytes pass, off the event loop.

* Terminals: asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a
  header line ``{"version": 2, "width": W, "height": H, "timestamp": UNIX_S, …}``,
  then one event per line, ``[seconds_since_start, code, data]`` with code ``"o"``
  (output), ``"i"`` (input, when the policy records it) or ``"r"`` (resize,
  ``"COLSxROWS"``). Its output as plain text (escape sequences removed), for search,
  is made when first searched (:func:`cast_text`), not while recording.
* Desktops: the RFB server-to-client stream (RFC 6143) from ServerInit on, in
  frames: the magic line ``MRFB1\\n``, a JSON header line ``{"width", "height",
  "timestamp"}``, then per chunk a 12-byte big-endian head ``(ms since start:
  uint64, length: uint32)`` and the bytes. A player answers noVNC's handshake with
  version 3.8, security type None and an OK result, then feeds the frames in time
  (``static/recording-player.js``).

The hot path (:meth:`RecordingWriter.output`, :meth:`~RecordingWriter.input`) only
appends ``(time, bytes)`` to a list; a flush task hands batches to a thread every
:data:`FLUSH_SECONDS` (or at :data:`FLUSH_BYTES`), which encodes and writes them.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import re
import struct
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO

import orjson

__all__ = [
    "FLUSH_BYTES",
    "FLUSH_SECONDS",
    "RFB_MAGIC",
    "AsciicastWriter",
    "RecordingWriter",
    "RfbWriter",
    "cast_text",
    "plain_text",
    "read_rfb_frames",
]

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
"""How often pending events are written."""
FLUSH_BYTES = 256 * 1024
"""Pending bytes that make a flush happen now."""
COALESCE_SECONDS = 0.05
"""Output chunks within this of an event's start join it: fewer, longer JSON lines
(encoding one costs about ten times a megabyte's worth of bytes, so at 1 MB/s this
is most of the recording's CPU), timed at most 50 ms early, below what a person sees
of a terminal redrawing."""
RFB_MAGIC = b"MRFB1\n"
_RFB_HEAD = struct.Struct(">QI")

# CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), other two-byte escapes, and C0
# controls other than newline and tab.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[()*+].|\x1b[@-Z\\-_=>78c]"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)


def plain_text(text: str) -> str:
    """``text`` (terminal output) without escape sequences and control characters;
    carriage returns become newlines."""
    return _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


class RecordingWriter(ABC):
    """Buffers events of one recording and writes them in a thread.

    Args:
        path: the recording's file (created; the parent directory must exist).
        clock: monotonic seconds; injected for tests.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.size_bytes = 0
        self._clock = clock
        self._start = clock()
        self._pending: list[tuple[float, str, bytes]] = []
        self._pending_bytes = 0
        self._closed = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._file: IO[bytes] = open(path, "wb")
        self._task = asyncio.get_running_loop().create_task(self._flusher(), name=f"rec {path}")

    def _add(self, code: str, data: bytes) -> None:
        if self._closed or not data:
            return
        self._pending.append((self._clock() - self._start, code, data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_BYTES:
            self._wake.set()

    def output(self, data: bytes) -> None:
        """Bytes from the workspace to the viewer (cheap: appended to the batch)."""
        self._add("o", data)

    def input(self, data: bytes) -> None:
        """Bytes from the viewer to the workspace."""
        self._add("i", data)

    async def _flusher(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=FLUSH_SECONDS)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is pending (in a thread)."""
        async with self._lock:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            if batch:
                try:
                    self.size_bytes += await asyncio.to_thread(self._write, batch)
                except OSError as exc:
                    log.warning("recording %s: writing failed: %r", self.path.name, exc)

    async def close(self) -> None:
        """Write the rest and close the file; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.flush()
        await asyncio.to_thread(self._close_files)

    def _close_files(self) -> None:
        self._file.close()

    @abstractmethod
    def _write(self, batch: list[tuple[float, str, bytes]]) -> int:
        """Encode and write ``batch`` (in a thread); the bytes written."""


class AsciicastWriter(RecordingWriter):
    """An asciicast v2 file and its plain-text sidecar (``<stem>.txt``).

    Args:
        path: the ``.cast`` file.
        width, height: the terminal's size at the start, in cells.
        timestamp: the start, Unix seconds.
        title: the header's ``title``.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        timestamp: int,
        title: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(path, clock=clock)
        header = {"version": 2, "width": width, "height": height, "timestamp": timestamp}
        if title:
            header["title"] = title  # type: ignore[assignment]
        line = (json.dumps(header) + "\n").encode()
        self._file.write(line)
        self.size_bytes = len(line)
        self._decoders = {
            code: codecs.getincrementaldecoder("utf-8")(errors="replace") for code in "oi"
        }

    def resize(self, cols: int, rows: int) -> None:
        """The terminal was resized (an ``"r"`` event)."""
        self._add("r", f"{cols}x{rows}".encode())

    def _write(self, batch: list[tuple[float, str, bytes]]) -> int:
        lines: list[bytes] = []
        merged: list[tuple[float, str, list[bytes]]] = []
        for at, code, data in batch:
            if merged and code == "o" == merged[-1][1] and at - merged[-1][0] < COALESCE_SECONDS:
                merged[-1][2].append(data)
            else:
                merged.append((at, code, [data]))
        for at, code, parts in merged:
            data = b"".join(parts)
            decoded = data.decode() if code == "r" else self._decoders[code].decode(data)
            # orjson: the JSON of a megabyte of output costs about a millisecond.
            lines.append(orjson.dumps([round(at, 6), code, decoded]))
        encoded = b"\n".join(lines) + b"\n"
        self._file.write(encoded)
        self._file.flush()
        return len(encoded)


def cast_text(path: Path) -> str:
    """The output of the asciicast v2 file at ``path`` as plain text (a line cut off by
    a recording still being written is skipped).

    Raises:
        OSError: the file cannot be read.
    """
    parts: list[str] = []
    with open(path, "rb") as cast:
        next(cast, None)  # the header
        for line in cast:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, list) and len(event) == 3 and event[1] == "o":
                parts.append(str(event[2]))
    return plain_text("".join(parts))


class RfbWriter(RecordingWriter):
    """A framed RFB stream (see the module docstring); input is not kept."""

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        timestamp: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(path, clock=clock)
        header = json.dumps({"width": width, "height": height, "timestamp": timestamp})
        line = RFB_MAGIC + header.encode() + b"\n"
        self._file.write(line)
        self.size_bytes = len(line)

    def input(self, data: bytes) -> None:
        """Ignored: a desktop's recording is what the viewer saw."""

    def _write(self, batch: list[tuple[float, str, bytes]]) -> int:
        parts = []
        for at, _code, data in batch:
            parts.append(_RFB_HEAD.pack(int(at * 1000), len(data)))
            parts.append(data)
        encoded = b"".join(parts)
        self._file.write(encoded)
        self._file.flush()
        return len(encoded)


def read_rfb_frames(data: bytes) -> tuple[dict[str, int], list[tuple[int, bytes]]]:
    """``(header, [(ms, bytes), …])`` of a framed RFB recording (a cut-off last frame
    is dropped).

    Raises:
        ValueError: not a framed RFB recording.
    """
    if not data.startswith(RFB_MAGIC):
        raise ValueError("not a Moorage RFB recording")
    end = data.index(b"\n", len(RFB_MAGIC))
    header = json.loads(data[len(RFB_MAGIC) : end])
    frames, at = [], end + 1
    while at + _RFB_HEAD.size <= len(data):
        ms, length = _RFB_HEAD.unpack_from(data, at)
        at += _RFB_HEAD.size
        if at + length > len(data):
            break
        frames.append((ms, data[at : at + length]))
        at += length
    return header, frames
