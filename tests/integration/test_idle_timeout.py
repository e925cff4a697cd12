"""The idle timeout on real Docker: a session nobody touches ends at its template's
idle timeout with reason ``idle``; one running a CPU-bound command does not, as
``docker stats`` shows it busy. Both run at once (the test takes about 20 s)."""

from __future__ import annotations

import asyncio
import time

from tests.integration.terminal_client import TerminalClient, terminal
from tests.integration.test_sessions_docker import token_for

IDLE_TIMEOUT_SECONDS = 10


async def test_an_idle_session_ends_with_reason_idle_and_a_busy_one_does_not(admin):
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "idle-shell",
            "display_name": "Idle shell",
            "image": "moorage/terminal:latest",
            "idle_timeout_seconds": IDLE_TIMEOUT_SECONDS,
            "idle_cpu_percent": 20,
            "max_sessions_per_user": 2,
        },
    )
    assert created.status_code in (201, 409), created.text  # 409: a rerun on the same database
    idle, busy = [
        (await admin.post("/api/v1/sessions", json={"template": "idle-shell"})).json()
        for _ in range(2)
    ]
    assert idle["state"] == busy["state"] == "ready", (idle, busy)
    assert idle["idle_timeout_seconds"] == IDLE_TIMEOUT_SECONDS
    token = await token_for(admin)
    started = time.monotonic()
    async with terminal(busy["urls"]["terminal"], token=token) as ws:
        term = TerminalClient(ws)
        # A long computation: one core busy, in the background of the held shell.
        await term.send("(while :; do :; done) & echo spinning-$((6*7))\n")
        await term.expect("spinning-42")
    typed = time.monotonic()  # its last key

    async def state_of(session: dict) -> dict:
        return (await admin.get(f"/api/v1/sessions/{session['id']}")).json()

    deadline = started + IDLE_TIMEOUT_SECONDS + 15
    while time.monotonic() < deadline:
        now = await state_of(idle)
        if now["state"] in ("releasing", "released"):
            break
        await asyncio.sleep(0.5)
    ended = await state_of(idle)
    assert ended["state"] in ("releasing", "released") and ended["end_reason"] == "idle", ended
    # Ended at its timeout, not before (measured from the launch answer).
    assert time.monotonic() - started >= IDLE_TIMEOUT_SECONDS - 1
    # Past its own timeout since its last key (and a reconcile pass more), the busy
    # one is kept alive by its CPU alone.
    await asyncio.sleep(max(0.0, typed + IDLE_TIMEOUT_SECONDS + 3 - time.monotonic()))
    still = await state_of(busy)
    assert still["state"] == "ready" and still["end_reason"] is None, still
    assert still["idle_since"] > busy["idle_since"]
