"""One desktop frame read from a VNC server (a scripted RFB server on loopback),
painted from Raw rectangles, bounded, and scaled into a PNG."""

from __future__ import annotations

import asyncio
import io
import struct
from collections.abc import Awaitable, Callable

import pytest
from PIL import Image

from moorage.errors import RuntimeUnavailable
from moorage.gateway.desktop_frame import Frame, encode_png, grab_frame

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The server's side of RFB 3.8 with VNC Authentication (any answer accepted)."""
    writer.write(b"RFB 003.008\n")
    await reader.readexactly(12)
    writer.write(bytes([1, 2]))
    await reader.readexactly(1)
    writer.write(b"\0" * 16)  # the challenge
    await reader.readexactly(16)
    writer.write(b"\0\0\0\0")
    await reader.readexactly(1)  # ClientInit
    await writer.drain()


def _server_init(width: int, height: int, name: bytes = b"desk") -> bytes:
    return struct.pack(">HH16xI", width, height, len(name)) + name


def _rect(x: int, y: int, w: int, h: int, bgrx: bytes) -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, 0) + bgrx * (w * h)


async def _serve(script: Script) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _handshake(reader, writer)
            await script(reader, writer)
            await writer.drain()
            await asyncio.sleep(5)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _grab(script: Script, timeout_seconds: float = 2.0) -> Frame:
    server, port = await _serve(script)
    try:
        return await grab_frame("127.0.0.1", port, "secret", timeout_seconds=timeout_seconds)
    finally:
        server.close()


async def test_a_frame_is_painted_from_its_raw_rectangles_after_other_messages():
    requests: list[bytes] = []

    async def script(reader, writer):
        writer.write(_server_init(4, 2))
        set_pixel_format = await reader.readexactly(20)
        set_encodings = await reader.readexactly(8)
        requests.append(await reader.readexactly(10))
        assert set_pixel_format[4:8] == bytes([32, 24, 0, 1])  # 32 bpp, little-endian, true
        assert set_encodings == struct.pack(">BxHi", 2, 1, 0)  # Raw only
        writer.write(b"\x02")  # Bell
        writer.write(struct.pack(">B3xI", 3, 5) + b"clip!")  # ServerCutText
        writer.write(struct.pack(">BxH", 0, 2))
        writer.write(_rect(0, 0, 4, 1, b"\x00\x00\xff\x00"))  # top row red
        writer.write(_rect(0, 1, 4, 1, b"\xff\x00\x00\x00"))  # bottom row blue

    frame = await _grab(script)
    assert (frame.width, frame.height) == (4, 2)
    assert frame.pixels == b"\x00\x00\xff\x00" * 4 + b"\xff\x00\x00\x00" * 4
    assert requests == [struct.pack(">BBHHHH", 3, 0, 0, 0, 4, 2)]  # the whole, not incremental


async def test_a_partial_update_is_followed_by_another_request():
    async def script(reader, writer):
        writer.write(_server_init(2, 2))
        await reader.readexactly(20 + 8 + 10)
        writer.write(struct.pack(">BxH", 0, 1) + _rect(0, 0, 2, 1, b"\x01\x02\x03\x00"))
        await reader.readexactly(10)
        writer.write(struct.pack(">BxH", 0, 1) + _rect(0, 1, 2, 1, b"\x04\x05\x06\x00"))

    frame = await _grab(script)
    assert frame.pixels == b"\x01\x02\x03\x00" * 2 + b"\x04\x05\x06\x00" * 2


@pytest.mark.parametrize(
    ("server_init", "update", "message"),
    [
        (_server_init(9000, 10), b"", "out of bounds"),
        (_server_init(4096, 4096), b"", "out of bounds"),
        (_server_init(4, 4), struct.pack(">BxH", 0, 1) + _rect(2, 2, 4, 4, b"\0\0\0\0"), "outside"),
        (_server_init(4, 4), b"\x96", "unexpected message"),
        (_server_init(4, 4), struct.pack(">BxHHHHHi", 0, 1, 0, 0, 4, 4, 16), "encoding 16"),
        (struct.pack(">HH16xI", 4, 4, 1 << 30), b"", "a text of"),
    ],
)
async def test_a_server_breaking_the_protocol_or_its_bounds_gives_no_frame(
    server_init, update, message
):
    async def script(reader, writer):
        writer.write(server_init)
        writer.write(update)

    with pytest.raises(RuntimeUnavailable) as caught:
        await _grab(script)
    assert message in caught.value.message


async def test_a_server_that_sends_no_frame_is_given_up_at_the_timeout():
    async def script(reader, writer):
        writer.write(_server_init(4, 4))

    started = asyncio.get_running_loop().time()
    with pytest.raises(RuntimeUnavailable) as caught:
        await _grab(script, timeout_seconds=0.3)
    assert "within 0.3 s" in caught.value.message
    assert asyncio.get_running_loop().time() - started < 2


async def test_nothing_listening_gives_no_frame():
    server, port = await _serve(lambda r, w: asyncio.sleep(0))
    server.close()
    await server.wait_closed()
    with pytest.raises(RuntimeUnavailable):
        await grab_frame("127.0.0.1", port, "x", timeout_seconds=1)


def test_the_png_is_scaled_down_to_the_width_keeping_proportions_and_colours():
    frame = Frame(1280, 800, b"\x00\x00\xff\x00" * (1280 * 800))  # all red
    image = Image.open(io.BytesIO(encode_png(frame, 480)))
    assert image.format == "PNG" and image.size == (480, 300)
    assert image.convert("RGB").getpixel((10, 10)) == (255, 0, 0)
    small = Image.open(io.BytesIO(encode_png(Frame(2, 1, b"\x00\xff\x00\x00" * 2), 480)))
    assert small.size == (2, 1) and small.convert("RGB").getpixel((0, 0)) == (0, 255, 0)
