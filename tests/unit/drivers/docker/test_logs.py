import struct

from moorage.drivers.docker.logs import _frames, _line_batches


class FakeContent:
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def iter_any(self):
        for chunk in self._chunks:
            yield chunk


class FakeResponse:
    def __init__(self, chunks: list[bytes]) -> None:
        self.content = FakeContent(chunks)


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


async def collect(chunks: list[bytes], tty: bool = False) -> list[tuple[str, list[str]]]:
    return [batch async for batch in _line_batches(_frames(FakeResponse(chunks), tty))]


async def test_streams_are_told_apart_and_lines_kept_whole_across_reads():
    raw = frame(1, b"out-1\n") + frame(1, b"out-2\n") + frame(2, b"err-1\n") + frame(1, b"par")
    raw += frame(1, b"tial\n") + frame(2, b"err-2 no newline")
    # Cut the byte stream at awkward places: inside a header and inside a payload.
    chunks = [raw[:3], raw[3:17], raw[17:40], raw[40:]]
    batches = await collect(chunks)
    lines = [(stream, line) for stream, group in batches for line in group]
    assert lines == [
        ("stdout", "out-1"),
        ("stdout", "out-2"),
        ("stderr", "err-1"),
        ("stdout", "partial"),
        ("stderr", "err-2 no newline"),
    ]


async def test_consecutive_frames_of_one_stream_are_merged_into_one_batch():
    raw = b"".join(frame(1, f"line-{i}\n".encode()) for i in range(1000))
    batches = await collect([raw])
    assert len(batches) == 1 and len(batches[0][1]) == 1000


async def test_a_tty_stream_is_plain_stdout():
    assert await collect([b"hello\nwor", b"ld\n"], tty=True) == [
        ("stdout", ["hello"]),
        ("stdout", ["world"]),
    ]
