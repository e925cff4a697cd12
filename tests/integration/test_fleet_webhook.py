"""DashFleet's WEBHOOK_URL on a real ``moorage serve``: MOORAGE_WEBHOOK_URL and
MOORAGE_WEBHOOK_MIN_SECONDS make a channel bound to the default rule at start-up,
which POSTs the seed's ``{"text": "…"}`` to a local receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.live_server import Server, free_port


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def test_the_webhook_setting_sends_the_seeds_payload(tmp_path, receiver):
    url, received = receiver
    server = Server(
        tmp_path / "hub",
        f"sqlite+aiosqlite:///{tmp_path / 'hub' / 'moorage.db'}",
        extra_env={"MOORAGE_WEBHOOK_URL": url, "MOORAGE_WEBHOOK_MIN_SECONDS": "42"},
    )
    server.data_dir.mkdir()
    server.start(timeout=120)  # a loaded test machine migrates slowly
    try:
        operator = await server.login()
        rules = (await operator.get("/api/v1/alert-rules")).json()
        (rule,) = [r for r in rules if r["builtin"] == "health_critical"]
        assert rule["enabled"] and rule["metric"] == "critical"
        (channel,) = (await operator.get("/api/v1/notification-channels")).json()
        assert channel["builtin"] == "webhook" and channel["rule_id"] == rule["id"]
        assert channel["cooldown_seconds"] == 42
        sent = await operator.post(f"/api/v1/notification-channels/{channel['id']}/test")
        assert sent.status_code == 204, sent.text
        # The test button answers once Apprise has delivered it.
        assert list(received[0]) == ["text"] and "alerts page" in received[0]["text"]
        await operator.aclose()
    finally:
        server.stop()
