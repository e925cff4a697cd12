"""Recording files: asciicast v2 as the spec draws it, text for search, framed RFB."""

import json

from moorage.models.template import Template
from moorage.services.activity import ignored_path
from moorage.services.recording_files import (
    AsciicastWriter,
    RfbWriter,
    cast_text,
    plain_text,
    read_rfb_frames,
)


async def test_asciicast_lines_keep_characters_cut_between_chunks(tmp_path):
    ticks = iter([0.0, 0.5, 0.501, 1.0, 2.0])
    writer = AsciicastWriter(
        tmp_path / "r.cast", width=80, height=24, timestamp=1_700_000_000, clock=lambda: next(ticks)
    )
    text = "é\x1b[1mbold\x1b[0m\r\n".encode()
    writer.output(text[:1])  # half of "é"
    writer.output(text[1:])
    writer.resize(100, 40)
    writer.input(b"ls\r")
    await writer.close()
    header, *events = (json.loads(line) for line in (tmp_path / "r.cast").read_text().splitlines())
    assert header == {"version": 2, "width": 80, "height": 24, "timestamp": 1_700_000_000}
    assert events == [
        [0.5, "o", "é\x1b[1mbold\x1b[0m\r\n"],  # 1 ms apart: one event
        [1.0, "r", "100x40"],
        [2.0, "i", "ls\r"],
    ]
    assert cast_text(tmp_path / "r.cast") == "ébold\n"
    assert writer.size_bytes == (tmp_path / "r.cast").stat().st_size


def test_plain_text_drops_escape_sequences():
    assert plain_text("\x1b]0;title\x07$ \x1b[32mok\x1b[0m\r\n\x1b(B") == "$ ok\n"


async def test_rfb_frames_round_trip(tmp_path):
    ticks = iter([0.0, 0.25, 1.5])
    writer = RfbWriter(
        tmp_path / "d.rfb", width=0, height=0, timestamp=1, clock=lambda: next(ticks)
    )
    writer.output(b"\x04\x00\x03\x00init")
    writer.input(b"ignored")
    writer.output(b"update")
    await writer.close()
    header, frames = read_rfb_frames((tmp_path / "d.rfb").read_bytes())
    assert header["timestamp"] == 1
    assert frames == [(250, b"\x04\x00\x03\x00init"), (1500, b"update")]


def test_ignored_paths_are_the_apps_polling():
    template = Template(idle_ignore_paths=[r"/api/kernels(\?|$)", r"/api/sessions"])
    assert ignored_path(template, "/s/abc/api/kernels?1700000000")
    assert ignored_path(template, "/s/abc/api/sessions")
    assert not ignored_path(template, "/s/abc/notebooks/a.ipynb")
    assert not ignored_path(Template(), "/s/abc/api/kernels")
