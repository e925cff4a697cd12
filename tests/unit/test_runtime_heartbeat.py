"""A server started without the reconciler (MOORAGE_RUN_RECONCILER=false, beside a
`moorage worker`) still says it is alive, so the worker does not take its launches in
progress for a crashed server's and remove their containers."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from moorage.config import Settings
from moorage.drivers.fake import FakeDriver
from moorage.models.instance import ServerInstance
from moorage.runtime import open_context
from tests.databases import fresh_database


async def test_a_server_without_reconciler_writes_heartbeats(tmp_path):
    driver = FakeDriver()
    async with fresh_database(tmp_path) as url:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            admin_password=SecretStr("heartbeat-admin-password"),
            instance_ttl_seconds=1.5,
        )
        async with open_context(
            settings, driver_factory=lambda env: driver, run_reconciler=False, announce=print
        ) as context:
            assert context.reconciler is None
            seen = []
            for _ in range(2):
                await asyncio.sleep(0.6)
                async with context.sessionmaker() as db:
                    row = await db.get(ServerInstance, context.instance_id)
                    assert row is not None, "no heartbeat"
                    seen.append(row.heartbeat_at)
            assert seen[1] > seen[0]
