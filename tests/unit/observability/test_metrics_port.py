"""The optional metrics port: ``/metrics`` on loopback without a token, nothing else
there, and a second server on the same port starts anyway (another worker has it)."""

from __future__ import annotations

import socket

import httpx
from pydantic import SecretStr

from moorage.app import create_app
from moorage.config import Settings
from moorage.drivers.fake import FakeDriver
from tests.databases import fresh_database


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_metrics_are_served_on_the_loopback_port_without_a_token(tmp_path):
    port = free_port()
    driver = FakeDriver()
    async with fresh_database(tmp_path) as url:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            admin_password=SecretStr("admin-password-for-tests"),
            reconcile_interval_seconds=3600,
            metrics_port=port,
        )

        def app(settings):
            return create_app(settings, driver_factory=lambda env: driver, announce=print)

        first = app(settings)
        async with first.router.lifespan_context(first):
            # The port is the first's: a second server (a sibling worker) starts anyway.
            other_dir = tmp_path / "second"
            other_dir.mkdir()
            async with fresh_database(other_dir) as other_url:
                update = {"data_dir": other_dir, "database_url": other_url}
                second = app(settings.model_copy(update=update))
                async with second.router.lifespan_context(second):
                    pass
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                metrics = await client.get("/metrics")
                other = await client.get("/api/v1/templates")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "# TYPE moorage_" in metrics.text
        assert other.status_code == 404
        with socket.socket() as probe:  # closed with the app
            assert probe.connect_ex(("127.0.0.1", port)) != 0
