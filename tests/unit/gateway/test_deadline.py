"""Access ends at the deadline: new connections are refused past it, open ones end at
it (unless extended), by a timer of their own."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from moorage.db.base import utcnow
from moorage.errors import Conflict
from moorage.gateway.deadline import (
    CLOSE_DEADLINE,
    refuse_if_past,
    serve_until_deadline,
    until_deadline,
)


def session(seconds: float, state: str = "ready") -> Any:
    return SimpleNamespace(expires_at=utcnow() + timedelta(seconds=seconds), state=state)


class FakeWebSocket:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_a_connection_past_the_deadline_is_refused_even_while_ready():
    with pytest.raises(Conflict):
        refuse_if_past(session(-0.001))
    refuse_if_past(session(5))


async def test_the_timer_fires_at_the_deadline_without_waiting_for_a_release():
    row = session(0.2)

    async def reload() -> Any:
        return row  # still ready: the reconciler has not released it

    started = time.monotonic()
    await asyncio.wait_for(until_deadline(row.expires_at, reload), 2)
    assert 0.15 < time.monotonic() - started < 0.6


async def test_an_extension_seen_at_the_deadline_moves_the_timer():
    first = session(0.1)
    extended = session(0.4)
    rows = [extended, extended]

    async def reload() -> Any:
        return rows.pop(0)

    started = time.monotonic()
    await asyncio.wait_for(until_deadline(first.expires_at, reload), 2)
    assert time.monotonic() - started > 0.35 and rows == []


async def test_an_open_connection_is_closed_at_the_deadline():
    row = session(0.1)
    websocket = FakeWebSocket()
    bridge_cancelled = asyncio.Event()

    async def bridge() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            bridge_cancelled.set()
            raise

    async def reload() -> Any:
        return row

    await asyncio.wait_for(
        serve_until_deadline(websocket, "vnc", row, reload, bridge()),  # type: ignore[arg-type]
        2,
    )
    assert websocket.closed == CLOSE_DEADLINE and bridge_cancelled.is_set()


async def test_a_bridge_that_ends_first_leaves_the_websocket_alone():
    row = session(30)
    websocket = FakeWebSocket()

    async def reload() -> Any:
        return row

    async def bridge() -> None:
        return None

    await serve_until_deadline(websocket, "vnc", row, reload, bridge())  # type: ignore[arg-type]
    assert websocket.closed is None
