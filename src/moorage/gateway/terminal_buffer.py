"""The replay buffer of a held terminal: the last bytes of its output, numbered."""

from __future__ import annotations

__all__ = ["BUFFER_BYTES", "LINE_SEARCH_BYTES", "RingBuffer"]

BUFFER_BYTES = 256 * 1024
"""Output kept for replay, per held terminal."""
LINE_SEARCH_BYTES = 4096
"""How far a replay that starts at the oldest kept byte looks for a line start."""


class RingBuffer:
    """The last ``capacity`` bytes of a stream whose bytes are numbered from 0.

    ``start`` is the number of the oldest byte kept, ``end`` the number the next
    byte written will get (the count of bytes ever written).
    """

    def __init__(self, capacity: int = BUFFER_BYTES) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1 byte")
        self.capacity = capacity
        self._data = bytearray()
        self._dropped = 0  # bytes discarded from the front so far

    @property
    def start(self) -> int:
        return self.end - min(len(self._data), self.capacity)

    @property
    def end(self) -> int:
        return self._dropped + len(self._data)

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``, forgetting what falls out of the last ``capacity`` bytes."""
        self._data += chunk
        # Trim in batches (up to twice the capacity is held) so a stream of small
        # chunks does not move the whole buffer on every write.
        if len(self._data) > 2 * self.capacity:
            excess = len(self._data) - self.capacity
            del self._data[:excess]
            self._dropped += excess

    def since(self, offset: int | None = None) -> tuple[int, bytes]:
        """``(first, data)``: the kept bytes from number ``offset`` on, or, when
        ``offset`` is None, before :attr:`start` or after :attr:`end`, from the oldest
        kept (from the line after it once bytes were forgotten, when a line starts in
        the next :data:`LINE_SEARCH_BYTES`). ``first`` is the number of ``data``'s
        first byte."""
        first = self.start
        if offset is not None and first <= offset <= self.end:
            first = offset
        elif first > 0:
            # Bytes were forgotten: start on a line, not inside an escape sequence
            # or a character cut in half.
            head = self._data[first - self._dropped : first - self._dropped + LINE_SEARCH_BYTES]
            newline = head.find(b"\n")
            if newline >= 0:
                first += newline + 1
        return first, bytes(self._data[first - self._dropped :])
