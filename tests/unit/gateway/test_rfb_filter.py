"""The RFB client filter: an observer's input never leaves it, the rest passes whole."""

import random
import struct

import pytest

from moorage.gateway.rfb_filter import RfbFilter, RfbProtocolError

CLIENT_INIT_EXCLUSIVE = b"\x00"
SET_PIXEL_FORMAT = (
    bytes([0, 0, 0, 0]) + bytes([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0]) + b"\0\0\0"
)
SET_ENCODINGS = struct.pack(">BxH3i", 2, 3, 0, 7, -223)
SET_ENCODINGS_EXTENDED_MOUSE = struct.pack(">BxH2i", 2, 2, 0, -316)
UPDATE_REQUEST = struct.pack(">BBHHHH", 3, 1, 0, 0, 1024, 768)
CONTINUOUS = struct.pack(">BBHHHH", 150, 1, 0, 0, 1024, 768)
FENCE = struct.pack(">BxxxIB", 248, 0x80000000, 4) + b"abcd"
KEY = struct.pack(">BBxxI", 4, 1, ord("x"))
POINTER = struct.pack(">BBHH", 5, 1, 10, 20)
POINTER_EXTENDED = struct.pack(">BBHHB", 5, 0x81, 10, 20, 1)
CUT_TEXT = struct.pack(">BxxxI", 6, 6) + b"secret"
CUT_TEXT_EXTENDED = struct.pack(">Bxxxi", 6, -8) + b"\x10\x00\x00\x01zzzz"
XVP_REBOOT = bytes([250, 0, 1, 3])
SET_DESKTOP_SIZE = struct.pack(">BxHHBx", 251, 800, 600, 1) + struct.pack(
    ">IHHHHI", 0, 0, 0, 800, 600, 0
)
QEMU_KEY = struct.pack(">BBHII", 255, 0, 1, ord("x"), 45)

SAFE = [SET_PIXEL_FORMAT, SET_ENCODINGS, UPDATE_REQUEST, CONTINUOUS, FENCE]
INPUT = [KEY, POINTER, CUT_TEXT, CUT_TEXT_EXTENDED, XVP_REBOOT, SET_DESKTOP_SIZE, QEMU_KEY]


def test_the_message_lengths_are_those_of_rfc_6143():
    assert [len(m) for m in (SET_PIXEL_FORMAT, UPDATE_REQUEST, KEY, POINTER)] == [20, 10, 8, 6]
    assert len(SET_ENCODINGS) == 4 + 4 * 3 and len(CUT_TEXT) == 8 + 6


def test_an_observer_gets_only_the_safe_messages_through_and_client_init_is_shared():
    rfb = RfbFilter(may_control=False)
    stream = CLIENT_INIT_EXCLUSIVE + b"".join(
        m for pair in zip(SAFE, INPUT, strict=False) for m in pair
    )
    stream += b"".join(INPUT[len(SAFE) :])
    assert rfb.feed(stream) == b"\x01" + b"".join(SAFE)
    assert rfb.dropped == len(INPUT)


@pytest.mark.parametrize("seed", range(20))
def test_any_chunking_of_the_stream_forwards_the_same_bytes(seed):
    """The browser's frames split messages anywhere: the result must not depend on it."""
    chooser = random.Random(seed)
    messages = [chooser.choice(SAFE + INPUT) for _ in range(60)]
    stream = CLIENT_INIT_EXCLUSIVE + b"".join(messages)
    expected = b"\x01" + b"".join(m for m in messages if m in SAFE)
    rfb = RfbFilter(may_control=False)
    out, at = b"", 0
    while at < len(stream):
        size = chooser.randint(1, 40)
        out += rfb.feed(stream[at : at + size])
        at += size
    assert out == expected
    assert KEY not in out and b"secret" not in out


def test_a_long_clipboard_is_skipped_as_it_arrives_not_buffered():
    rfb = RfbFilter(may_control=False)
    rfb.feed(b"\x00")
    assert rfb.feed(struct.pack(">BxxxI", 6, 10_000_000) + b"a" * 1000) == b""
    assert len(rfb._buffer) == 0  # nothing of it is kept
    for _ in range(9999):
        assert rfb.feed(b"b" * 1000) == b""
    assert rfb.feed(UPDATE_REQUEST) == UPDATE_REQUEST


def test_the_extended_pointer_event_is_seven_bytes_once_declared():
    rfb = RfbFilter(may_control=False)
    rfb.feed(b"\x00")
    assert rfb.feed(SET_ENCODINGS_EXTENDED_MOUSE) == SET_ENCODINGS_EXTENDED_MOUSE
    assert rfb.feed(POINTER_EXTENDED + UPDATE_REQUEST) == UPDATE_REQUEST


def test_an_unknown_message_type_ends_the_observers_stream():
    rfb = RfbFilter(may_control=False)
    rfb.feed(b"\x01")
    with pytest.raises(RfbProtocolError):
        rfb.feed(bytes([77, 0, 0, 0]))
    with pytest.raises(RfbProtocolError):
        RfbFilter(may_control=False).feed(b"\x01" + bytes([255, 1]) + b"\0" * 10)


def test_a_peer_passes_everything_but_an_exclusive_client_init():
    rfb = RfbFilter(may_control=True)
    stream = b"".join(SAFE + INPUT)
    assert rfb.feed(CLIENT_INIT_EXCLUSIVE + stream[:5]) == b"\x01" + stream[:5]
    assert rfb.feed(stream[5:]) == stream[5:]
    assert rfb.dropped == 0
