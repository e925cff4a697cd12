"""The client → server half of an RFB (VNC) stream, read message by message, so the
desktop gateway can keep an observer's input away from the workspace.

After the handshake the gateway completes itself (:mod:`moorage.gateway.desktop`),
the browser sends ClientInit (one byte, the shared flag) and then client messages
(RFC 6143 section 7.5, and the extensions noVNC speaks, from the RFB community
specification, rfbproto):

====  =========================  ===========================  ==========
type  message                    length                       observer
====  =========================  ===========================  ==========
0     SetPixelFormat             20                           forwarded
2     SetEncodings               4 + 4 × count                forwarded
3     FramebufferUpdateRequest   10                           forwarded
4     KeyEvent                   8                            dropped
5     PointerEvent               6 (7 with the marker bit     dropped
                                 once ExtendedMouseButtons,
                                 -316, is in SetEncodings)
6     ClientCutText              8 + |length| (negative:      dropped
                                 extended clipboard)
150   EnableContinuousUpdates    10                           forwarded
248   ClientFence                9 + payload length           forwarded
250   xvp (shutdown, reboot…)    4                            dropped
251   SetDesktopSize             8 + 16 × screens             dropped
255   QEMU client message        12 (sub-type 0: extended     dropped
                                 key event; others refused)
====  =========================  ===========================  ==========

Any other type cannot be measured, so the stream cannot be followed past it:
:class:`RfbFilter` raises :class:`RfbProtocolError` and the gateway closes the
connection. Only whole messages the table forwards leave the filter, so the
server parses exactly what the filter parsed: an observer cannot smuggle a
KeyEvent inside a message the filter misread.

ClientInit's shared flag is forced to 1 for every client (owner, peer and
observer alike): with 0, the VNC server would disconnect every other viewer of
the desktop.
"""

from __future__ import annotations

import struct

__all__ = ["RfbFilter", "RfbProtocolError"]

EXTENDED_MOUSE_BUTTONS = -316
"""Pseudo-encoding after which a PointerEvent with the marker bit (0x80) is 7 bytes."""

_FORWARDED = {0, 2, 3, 150, 248}
"""Message types an observer may send: they change only what this client is sent."""
MAX_FENCE_PAYLOAD = 64


class RfbProtocolError(Exception):
    """The client sent something the filter cannot measure (an unknown type)."""


class RfbFilter:
    """Feeds the client's bytes through, message by message.

    Args:
        may_control: True for owners and peers (everything is forwarded: only the
            ClientInit flag is changed); False for observers (the table's "dropped"
            messages are skipped whole).

    Call :meth:`feed` with each chunk the browser sends; it answers the bytes to
    forward to the server (possibly none). Partial messages wait for the next chunk;
    a dropped message's body is skipped as it arrives, never buffered whole.
    """

    def __init__(self, *, may_control: bool) -> None:
        self.may_control = may_control
        self._client_init_seen = False
        self._buffer = b""
        self._skip = 0
        self._extended_pointer = False
        self.dropped = 0
        """How many messages were dropped (for tests and logs)."""

    def feed(self, data: bytes) -> bytes:
        """The part of the stream so far to forward, given the next ``data``.

        Raises:
            RfbProtocolError: an observer sent a message type outside the table.
        """
        out = bytearray()
        if not self._client_init_seen and data:
            self._client_init_seen = True
            out.append(1)  # ClientInit: shared
            data = data[1:]
        if self.may_control:
            out += data
            return bytes(out)
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            data = data[skipped:]
        self._buffer += data
        while self._buffer:
            length = self._length(self._buffer)
            if length is None:
                break  # wait for more
            message_type = self._buffer[0]
            if message_type in _FORWARDED:
                if len(self._buffer) < length:
                    break
                message, self._buffer = self._buffer[:length], self._buffer[length:]
                if message_type == 2:
                    self._note_encodings(message)
                out += message
            else:
                self.dropped += 1
                skipped = min(length, len(self._buffer))
                self._buffer = self._buffer[skipped:]
                self._skip = length - skipped
                if self._skip:
                    break
        return bytes(out)

    def _length(self, buffer: bytes) -> int | None:
        """The whole length of the message starting ``buffer``, or None until enough
        of its header is there to tell."""
        kind = buffer[0]
        fixed = {0: 20, 3: 10, 4: 8, 150: 10, 250: 4}
        if kind in fixed:
            return fixed[kind]
        if kind == 5:
            if len(buffer) < 2:
                return None
            return 7 if self._extended_pointer and buffer[1] & 0x80 else 6
        if kind == 2:
            if len(buffer) < 4:
                return None
            (count,) = struct.unpack(">H", buffer[2:4])
            return 4 + 4 * count
        if kind == 6:
            if len(buffer) < 8:
                return None
            (length,) = struct.unpack(">i", buffer[4:8])
            return 8 + abs(length)
        if kind == 248:
            if len(buffer) < 9:
                return None
            if buffer[8] > MAX_FENCE_PAYLOAD:
                raise RfbProtocolError("a ClientFence payload is longer than 64 bytes")
            return 9 + buffer[8]
        if kind == 251:
            if len(buffer) < 7:
                return None
            return 8 + 16 * buffer[6]
        if kind == 255:
            if len(buffer) < 2:
                return None
            if buffer[1] != 0:
                raise RfbProtocolError(f"QEMU client message of sub-type {buffer[1]}")
            return 12
        raise RfbProtocolError(f"unknown RFB client message type {kind}")

    def _note_encodings(self, message: bytes) -> None:
        count = (len(message) - 4) // 4
        encodings = struct.unpack(f">{count}i", message[4:])
        self._extended_pointer = EXTENDED_MOUSE_BUTTONS in encodings
