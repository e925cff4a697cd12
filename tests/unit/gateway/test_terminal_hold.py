"""Held terminals: the ring buffer, attachments, the deadline, and the end of a session."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from moorage.drivers.fake import FakeTerminal
from moorage.gateway import terminal_attachment
from moorage.gateway.terminal_attachment import (
    CLOSE_SESSION_ENDED,
    CLOSE_SHELL_EXITED,
    CLOSE_TOO_SLOW,
)
from moorage.gateway.terminal_buffer import RingBuffer
from moorage.gateway.terminal_hold import HeldTerminal, TerminalHolds

# -- the ring buffer ------------------------------------------------------------


def test_the_ring_buffer_keeps_the_last_capacity_bytes_with_their_numbers():
    ring = RingBuffer(capacity=10)
    ring.write(b"0123456789")
    ring.write(b"abcdefghij")
    ring.write(b"KLMNO")
    assert (ring.start, ring.end) == (15, 25)
    assert ring.since(20) == (20, b"KLMNO")
    assert ring.since(25) == (25, b"")
    assert ring.since(15) == (15, b"fghijKLMNO")


def test_the_ring_buffer_holds_at_most_its_capacity_however_it_is_written():
    ring = RingBuffer(capacity=256 * 1024)
    for i in range(2000):
        ring.write(bytes([65 + i % 26]) * 1000)
    first, data = ring.since(0)  # forgotten: from the oldest kept (no newline to seek)
    assert len(data) == 256 * 1024 == ring.end - first
    assert data == b"".join(bytes([65 + i % 26]) * 1000 for i in range(2000))[-256 * 1024 :]


def test_a_replay_from_the_oldest_kept_byte_starts_on_a_line_once_bytes_were_forgotten():
    ring = RingBuffer(capacity=8)
    ring.write(b"ab\n")
    assert ring.since() == (0, b"ab\n")  # nothing forgotten: all of it
    ring.write(b"\x1b[1mcd\nef")  # the oldest kept byte is inside an escape sequence
    first, data = ring.since()
    assert data == b"ef" and first == ring.end - 2
    assert ring.since(ring.start) == (ring.start, b"[1mcd\nef")  # a resume is exact


def test_the_ring_buffer_refuses_no_capacity():
    with pytest.raises(ValueError):
        RingBuffer(capacity=0)


# -- one held terminal ------------------------------------------------------------


def _soon(seconds: float = 3600) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def _ready() -> datetime | None:
    return _soon()


async def _drain(queue: asyncio.Queue[bytes | None]) -> list[bytes | None]:
    items = [await asyncio.wait_for(queue.get(), 2)]
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_output_reaches_every_attachment_and_the_latest_sets_the_size():
    stream = FakeTerminal()
    held = HeldTerminal("s1", stream, expires_at=_soon(), still_live=_ready)
    first, start, replay = held.attach(80, 24)
    assert (start, replay) == (0, b"")
    await held.apply_size()
    await held.write(b"one\r")
    assert await _drain(first.queue) == [b"one\r"]

    second, start, replay = held.attach(120, 40)
    await held.apply_size()
    assert (start, replay) == (0, b"one\r")
    await held.write(b"two\r")
    assert await _drain(first.queue) == [b"two\r"]
    assert await _drain(second.queue) == [b"two\r"]
    assert stream.sizes[-1] == (120, 40)

    await held.resize(first, 100, 30)  # not the latest: recorded only
    assert stream.sizes[-1] == (120, 40)
    await held.detach(second)  # the latest leaves: the one left sets the size
    assert stream.sizes[-1] == (100, 30)
    assert not stream.closed and held.attachments == 1
    await held.close(*CLOSE_SHELL_EXITED)


async def test_the_shell_exiting_ends_the_attachments_after_their_output():
    stream = FakeTerminal()
    ended: list[HeldTerminal] = []
    held = HeldTerminal("s1", stream, expires_at=_soon(), still_live=_ready, on_end=ended.append)
    attachment, _, _ = held.attach(80, 24)
    await held.write(b"bye\r")
    await stream.close()  # the shell exits
    assert await _drain(attachment.queue) == [b"bye\r", None]
    assert (attachment.close_code, attachment.close_reason) == CLOSE_SHELL_EXITED
    assert held.closed and ended == [held]
    with pytest.raises(RuntimeError):
        held.attach(80, 24)


async def test_a_client_too_far_behind_is_detached_without_holding_the_shell_back(monkeypatch):
    monkeypatch.setattr(terminal_attachment, "MAX_QUEUED_BYTES", 10)
    stream = FakeTerminal()
    held = HeldTerminal("s1", stream, expires_at=_soon(), still_live=_ready)
    slow, _, _ = held.attach(80, 24)
    await held.write(b"12345678")
    await held.write(b"9abcdef")  # past 10 bytes queued
    assert await _drain(slow.queue) == [None]
    assert (slow.close_code, slow.close_reason) == CLOSE_TOO_SLOW
    fresh, start, replay = held.attach(80, 24)  # it reconnects: the replay has it all
    assert (start, replay) == (0, b"123456789abcdef")
    assert held.attachments == 1 and not held.closed
    await held.close(*CLOSE_SHELL_EXITED)
    assert await _drain(fresh.queue) == [None]


async def test_past_its_deadline_the_terminal_ends_when_the_session_is_no_longer_ready():
    answers: list[datetime | None] = [_soon(0.2), None]

    async def still_live() -> datetime | None:
        return answers.pop(0)

    stream = FakeTerminal()
    held = HeldTerminal("s1", stream, expires_at=_soon(0.1), still_live=still_live)
    attachment, _, _ = held.attach(80, 24)
    # At 0.1 s the session reads as extended (elsewhere) to 0.2 s; then it has ended.
    assert await _drain(attachment.queue) == [None]
    assert (attachment.close_code, attachment.close_reason) == CLOSE_SESSION_ENDED
    assert stream.closed and answers == []


async def test_at_its_deadline_the_terminal_ends_while_the_session_still_reads_ready():
    deadline = _soon(0.1)

    async def still_live() -> datetime | None:
        return deadline  # not released yet by the reconciler, and not extended

    stream = FakeTerminal()
    held = HeldTerminal("s1", stream, expires_at=deadline, still_live=still_live)
    attachment, _, _ = held.attach(80, 24)
    assert await asyncio.wait_for(_drain(attachment.queue), 1) == [None]
    assert (attachment.close_code, attachment.close_reason) == CLOSE_SESSION_ENDED


async def test_an_extension_moves_the_deadline_without_asking():
    asked: list[int] = []

    async def still_live() -> datetime | None:
        asked.append(1)
        return None

    held = HeldTerminal("s1", FakeTerminal(), expires_at=_soon(0.1), still_live=still_live)
    held.move_deadline(_soon())
    await asyncio.sleep(0.3)
    assert not held.closed and asked == []
    await held.close(*CLOSE_SHELL_EXITED)


# -- the holds of a process ------------------------------------------------------------


async def test_one_shell_per_session_even_when_two_clients_come_at_once():
    holds = TerminalHolds()
    opened: list[FakeTerminal] = []

    async def open_shell(cols: int, rows: int) -> FakeTerminal:
        await asyncio.sleep(0.05)
        opened.append(FakeTerminal())
        return opened[-1]

    args = {"open_shell": open_shell, "cols": 80, "rows": 24, "still_live": _ready}
    first, second = await asyncio.gather(
        holds.hold("s1", expires_at=_soon(), **args),
        holds.hold("s1", expires_at=_soon(), **args),
    )
    assert first is second and len(opened) == 1
    other = await holds.hold("s2", expires_at=_soon(), **args)
    assert other is not first and len(opened) == 2
    await holds.close_all()
    assert all(t.closed for t in opened) and holds.get("s1") is None


async def test_the_session_release_closes_its_held_terminal_and_only_its_own():
    holds = TerminalHolds()
    streams = {"s1": FakeTerminal(), "s2": FakeTerminal()}

    def opener(session_id: str):
        async def open_shell(cols: int, rows: int) -> FakeTerminal:
            return streams[session_id]

        return open_shell

    held = {
        sid: await holds.hold(
            sid, open_shell=opener(sid), cols=80, rows=24, expires_at=_soon(), still_live=_ready
        )
        for sid in streams
    }
    attachment, _, _ = held["s1"].attach(80, 24)
    later = _soon(7200)
    holds.deadline_changed("s2", later)  # an extension
    holds.deadline_changed("s1", None)  # released (the session service's listener)
    holds.deadline_changed("unknown", None)
    assert await _drain(attachment.queue) == [None]
    assert (attachment.close_code, attachment.close_reason) == CLOSE_SESSION_ENDED
    await asyncio.sleep(0)
    assert streams["s1"].closed and holds.get("s1") is None
    assert not streams["s2"].closed and held["s2"].expires_at == later
    await holds.close_all()


async def test_the_held_terminal_knows_its_ttys_size_for_thumbnails():
    holds = TerminalHolds()
    stream = FakeTerminal()

    async def open_shell(cols: int, rows: int) -> FakeTerminal:
        return stream

    held = await holds.hold(
        "s-size", open_shell=open_shell, cols=90, rows=20, expires_at=_soon(), still_live=_ready
    )
    assert held.size == (90, 20)
    held.attach(120, 40)
    await held.apply_size()
    assert held.size == (120, 40) == stream.sizes[-1]
    held.attach(50, 10, steers=False)
    await held.apply_size()
    assert held.size == (120, 40)  # an observer's size never reaches the TTY
    await holds.close_all()
