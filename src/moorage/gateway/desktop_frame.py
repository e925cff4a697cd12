"""One frame of a desktop, read from its VNC server, for thumbnails.

A minimal RFB client (RFC 6143): after the handshake Moorage completes with the
session's password (:func:`moorage.services.kinds.rfb.open_vnc`), it sends
ClientInit with the shared flag (other viewers stay connected), reads ServerInit,
asks for 32-bit true colour (``0x00RRGGBB`` little-endian: bytes B, G, R, X) in
Raw encoding only, requests the whole framebuffer (non-incremental) and paints the
rectangles of the updates until every pixel was sent once. Raw costs bandwidth
(4 bytes a pixel, 4 MB for 1280×800) but no decoding, which over loopback is the
cheaper side. No library fits: vncdotool runs on Twisted (its simple API in a
reactor thread), asyncvnc has had no release since 2023 and brings numpy; the part
needed here is some sixty lines over the handshake Moorage already has.

The server is the workspace's, so the user's: every length it sends is bounded
before anything is allocated (:data:`MAX_SIDE`, :data:`MAX_PIXELS`,
:data:`MAX_TEXT_BYTES`), and a
message this client did not ask for ends the read with
:class:`~moorage.errors.RuntimeUnavailable`.

Pillow scales and encodes the PNG, imported on the first frame; it runs in a
worker thread.
"""

from __future__ import annotations

import asyncio
import io
import struct
from dataclasses import dataclass

from moorage.errors import RuntimeUnavailable
from moorage.services.kinds.rfb import open_vnc

__all__ = ["MAX_PIXELS", "MAX_SIDE", "Frame", "encode_png", "grab_frame", "read_frame"]

MAX_SIDE = 4096
"""The largest framebuffer width or height accepted, in pixels."""
MAX_PIXELS = 3840 * 2400
"""The largest framebuffer accepted, in pixels (4 bytes each: about 37 MB)."""
MAX_TEXT_BYTES = 1 << 20
"""The longest desktop name or clipboard text read (and thrown away)."""
_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
"""32 bits a pixel, depth 24, little-endian, true colour, 8 bits each, R<<16 G<<8 B."""
_RAW = 0
_DESKTOP_SIZE = -223
_LAST_RECT = -224


@dataclass(frozen=True)
class Frame:
    """A framebuffer: ``width`` × ``height`` pixels, 4 bytes each (B, G, R, unused),
    rows top to bottom."""

    width: int
    height: int
    pixels: bytes


async def grab_frame(host: str, port: int, password: str, *, timeout_seconds: float) -> Frame:
    """Connect to the VNC server at ``host:port`` with ``password`` and read one
    whole frame, all within ``timeout_seconds``.

    Raises:
        RuntimeUnavailable: unreachable, the password refused, a protocol error, or
            no whole frame within ``timeout_seconds``.
    """
    try:
        async with asyncio.timeout(timeout_seconds):
            reader, writer = await open_vnc(host, port, password)
            try:
                return await read_frame(reader, writer)
            finally:
                writer.close()
    except TimeoutError as exc:
        raise RuntimeUnavailable(f"no frame from the desktop within {timeout_seconds:g} s") from exc


async def _read(reader: asyncio.StreamReader, count: int) -> bytes:
    try:
        return await reader.readexactly(count)
    except asyncio.IncompleteReadError as exc:
        raise RuntimeUnavailable("the desktop closed the connection mid-frame") from exc


async def read_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Frame:
    """The RFB exchange from ClientInit to a whole frame (see the module docstring),
    on a connection just past the security handshake. The caller closes ``writer``.

    Raises:
        RuntimeUnavailable: the server broke the protocol, sent a size over
            :data:`MAX_SIDE` or :data:`MAX_PIXELS` or a text over
            :data:`MAX_TEXT_BYTES`, or closed.
    """
    writer.write(b"\x01")  # ClientInit: shared
    width, height = struct.unpack(">HH", await _read(reader, 4))
    await _read(reader, 16)  # the server's pixel format: we set ours
    (name_length,) = struct.unpack(">I", await _read(reader, 4))
    await _skip_text(reader, name_length)
    _check_size(width, height)
    writer.write(b"\x00\x00\x00\x00" + _PIXEL_FORMAT)  # SetPixelFormat
    writer.write(struct.pack(">BxHi", 2, 1, _RAW))  # SetEncodings: Raw
    pixels = bytearray(width * height * 4)
    painted = 0
    while painted < width * height:
        writer.write(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))  # the whole screen
        await writer.drain()
        painted_now, size = await _read_update(reader, pixels, width, height)
        if size is not None:  # the desktop was resized: start over at the new size
            width, height = size
            pixels, painted = bytearray(width * height * 4), 0
            continue
        painted += painted_now
    return Frame(width, height, bytes(pixels))


async def _read_update(
    reader: asyncio.StreamReader, pixels: bytearray, width: int, height: int
) -> tuple[int, tuple[int, int] | None]:
    """Read server messages up to and including one FramebufferUpdate, painting its
    Raw rectangles into ``pixels``: ``(pixels painted, new size or None)``."""
    while True:
        (kind,) = await _read(reader, 1)
        if kind == 0:  # FramebufferUpdate
            break
        if kind == 1:  # SetColourMapEntries: pad, first, count, 6 bytes each
            _, _, count = struct.unpack(">BHH", await _read(reader, 5))
            await _read(reader, 6 * count)
        elif kind == 2:  # Bell
            continue
        elif kind == 3:  # ServerCutText: 3 pad, length, text
            (length,) = struct.unpack(">3xI", await _read(reader, 7))
            await _skip_text(reader, length)
        else:
            raise RuntimeUnavailable(f"the desktop sent an unexpected message (type {kind})")
    (count,) = struct.unpack(">xH", await _read(reader, 3))
    painted = 0
    for _ in range(count):
        x, y, w, h, encoding = struct.unpack(">HHHHi", await _read(reader, 12))
        if encoding == _LAST_RECT:
            break
        if encoding == _DESKTOP_SIZE:
            _check_size(w, h)
            return 0, (w, h)
        if encoding != _RAW:
            raise RuntimeUnavailable(f"the desktop sent encoding {encoding}, not Raw")
        if x + w > width or y + h > height:
            raise RuntimeUnavailable("the desktop sent a rectangle outside its screen")
        data = await _read(reader, w * h * 4)
        row_bytes = w * 4
        for row in range(h):
            start = ((y + row) * width + x) * 4
            pixels[start : start + row_bytes] = data[row * row_bytes : (row + 1) * row_bytes]
        painted += w * h
    return painted, None


async def _skip_text(reader: asyncio.StreamReader, length: int) -> None:
    if length > MAX_TEXT_BYTES:
        raise RuntimeUnavailable(f"the desktop sent a text of {length} bytes")
    await _read(reader, length)


def _check_size(width: int, height: int) -> None:
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE and width * height <= MAX_PIXELS):
        raise RuntimeUnavailable(f"the desktop's size {width}×{height} is out of bounds")


def encode_png(frame: Frame, max_width: int) -> bytes:
    """``frame`` as a PNG at most ``max_width`` pixels wide (scaled down keeping its
    proportions, never up). CPU-bound: call it in a worker thread."""
    from PIL import Image

    image = Image.frombuffer("RGB", (frame.width, frame.height), frame.pixels, "raw", "BGRX", 0, 1)
    if frame.width > max_width:
        height = max(1, round(frame.height * max_width / frame.width))
        image = image.resize((max_width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=3)
    return out.getvalue()
