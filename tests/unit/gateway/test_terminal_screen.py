"""Emulated screens of held terminals: replayed from the ring buffer's tail, fed
only what is new on later looks, at the TTY's size."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

from moorage.gateway import terminal_screen
from moorage.gateway.terminal_buffer import RingBuffer
from moorage.gateway.terminal_screen import REPLAY_BYTES, TerminalScreens, replay_start
from moorage.gateway.thumbnail_svg import CELL_WIDTH

SVG_NS = "{http://www.w3.org/2000/svg}"


@dataclass
class Held:
    """What :class:`TerminalScreens` reads of a held terminal."""

    session_id: str = "s1"
    shell_id: str = "shell-1"
    size: tuple[int, int] = (80, 24)
    buffer: RingBuffer = field(default_factory=RingBuffer)


def _lines(svg: bytes) -> list[str]:
    return [e.text or "" for e in ElementTree.fromstring(svg).iter(f"{SVG_NS}text")]


def test_a_replay_starts_at_the_last_clear_else_on_a_line():
    assert replay_start(b"abc\x1b[2Jdef", 0) == 3
    assert replay_start(b"x\x1bcA\x1b[H\x1b[Jnew", 100) == 100 + 4
    assert replay_start(b"no clear at all", 0) == 0  # the whole output: from its start
    assert replay_start(b"half a line\nnext", 500) == 500 + 12  # cut output: from a line
    assert replay_start(b"no newline", 500) == 500


async def test_the_screen_shows_the_output_and_then_what_follows():
    held = Held()
    screens = TerminalScreens()
    held.buffer.write(b"$ echo one\r\none\r\n$ ")
    assert _lines(await screens.svg(held)) == ["$ echo one", "one", "$"]
    held.buffer.write(b"echo two\r\ntwo\r\n$ ")
    assert _lines(await screens.svg(held)) == ["$ echo one", "one", "$ echo two", "two", "$"]


async def test_a_later_look_feeds_only_the_new_bytes(monkeypatch):
    fed: list[int] = []
    real = terminal_screen._feed_and_draw

    def counting(state, data, cols, rows):
        fed.append(len(data))
        return real(state, data, cols, rows)

    monkeypatch.setattr(terminal_screen, "_feed_and_draw", counting)
    held = Held()
    screens = TerminalScreens()
    held.buffer.write(b"a" * 1000 + b"\r\n")
    await screens.svg(held)
    held.buffer.write(b"bb\r\n")
    await screens.svg(held)
    await screens.svg(held)  # nothing new: the last drawing again
    assert fed == [1002, 4]


async def test_a_first_look_replays_at_most_the_tail_from_a_line_start():
    held = Held(buffer=RingBuffer(capacity=64 * 1024))
    for index in range(5000):
        held.buffer.write(f"line {index}\r\n".encode())
    lines = _lines(await TerminalScreens().svg(held))
    assert lines[-1] == "line 4999"
    assert len(lines) == 23  # the last 24 rows: 23 lines and the empty one the cursor is on
    assert held.buffer.end - held.buffer.start > REPLAY_BYTES


async def test_a_clear_far_back_hides_what_was_before_it():
    held = Held()
    held.buffer.write(b"secret before clear\r\n" * 10 + b"\x1b[H\x1b[2J" + b"after\r\n")
    assert _lines(await TerminalScreens().svg(held)) == ["after"]


async def test_the_screen_follows_the_ttys_size():
    held = Held(size=(40, 10))
    screens = TerminalScreens()
    held.buffer.write(b"x")
    root = ElementTree.fromstring(await screens.svg(held))
    assert root.get("viewBox", "").startswith(f"0 0 {40 * CELL_WIDTH} ")
    held.size = (100, 30)
    root = ElementTree.fromstring(await screens.svg(held))
    assert root.get("viewBox", "").startswith(f"0 0 {100 * CELL_WIDTH} ")
    assert _lines(await screens.svg(held)) == ["x"]  # kept across the resize


async def test_a_new_shell_gets_a_new_screen():
    held = Held()
    screens = TerminalScreens()
    held.buffer.write(b"first shell")
    assert _lines(await screens.svg(held)) == ["first shell"]
    held.shell_id, held.buffer = "shell-2", RingBuffer()
    held.buffer.write(b"second")
    assert _lines(await screens.svg(held)) == ["second"]


async def test_screens_not_looked_at_for_a_minute_are_dropped():
    now = [0.0]
    screens = TerminalScreens(clock=lambda: now[0])
    await screens.svg(Held(session_id="a"))
    await screens.svg(Held(session_id="b"))
    assert len(screens) == 2
    now[0] = 61.0
    await screens.svg(Held(session_id="b"))
    assert len(screens) == 1


async def test_a_screen_with_nothing_new_is_not_drawn_again(monkeypatch):
    drawn: list[int] = []
    real = terminal_screen._feed_and_draw

    def counting(state, data, cols, rows):
        drawn.append(len(data))
        return real(state, data, cols, rows)

    monkeypatch.setattr(terminal_screen, "_feed_and_draw", counting)
    held = Held()
    screens = TerminalScreens()
    held.buffer.write(b"same")
    first = await screens.svg(held)
    assert await screens.svg(held) == first and drawn == [4]
    held.size = (90, 24)  # a resize draws again, with nothing new to feed
    await screens.svg(held)
    held.buffer.write(b"!")
    assert _lines(await screens.svg(held)) == ["same!"]
    assert drawn == [4, 0, 1]
