"""Sessions ending together are reclaimed concurrently, but at most
``RECLAIM_CONCURRENCY`` container removals run at once (Docker is not flooded)."""

from __future__ import annotations

import asyncio

from moorage.services.sessions import RECLAIM_CONCURRENCY
from tests.unit.conftest import App


async def test_many_sessions_ending_at_once_are_removed_concurrently_within_the_bound(
    app: App,
):
    created = await app.client.post(
        "/api/v1/templates",
        json={
            "name": "many",
            "display_name": "Many",
            "image": "moorage/terminal:latest",
            "max_sessions_per_user": 30,
        },
    )
    assert created.status_code == 201, created.text
    launched = await asyncio.gather(
        *(app.client.post("/api/v1/sessions", json={"template": "many"}) for _ in range(25))
    )
    assert all(r.status_code == 201 for r in launched), [r.text for r in launched][:2]

    running = peak = 0
    remove = app.driver.remove

    async def slow_remove(container_id: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.05)
            await remove(container_id)
        finally:
            running -= 1

    app.driver.remove = slow_remove  # type: ignore[method-assign]
    try:
        # What the reconciler does when 25 deadlines fall at once: 25 releases together.
        released = await asyncio.gather(
            *(app.context.sessions.release_by_id(r.json()["id"]) for r in launched)
        )
    finally:
        app.driver.remove = remove  # type: ignore[method-assign]
    assert all(released)
    assert 1 < peak <= RECLAIM_CONCURRENCY
    assert len(app.driver.containers) == 0
