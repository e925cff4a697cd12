"""Docker going away: the real aiodocker driver pointed at a socket nobody serves."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select, update

from moorage.app import create_app
from moorage.config import Settings
from moorage.db.engine import write_session
from moorage.models.environment import Environment
from moorage.models.session import WorkspaceSession
from tests.databases import fresh_database


async def test_docker_unreachable_is_503_with_no_row_and_health_says_so(docker, tmp_path):
    async with fresh_database(tmp_path) as url:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            admin_password=SecretStr("unreachable-test"),
            reconcile_interval_seconds=3600,
        )
        app = create_app(settings, announce=lambda message: None)
        async with app.router.lifespan_context(app):
            context = app.state.context
            # The engine "goes away": the environment now points at a dead socket.
            async with write_session(context.sessionmaker) as db:
                environment = await db.scalar(select(Environment))
                await db.execute(
                    update(Environment).values(url=f"unix://{tmp_path}/no-docker-here.sock")
                )
            await context.drivers.invalidate(environment.id)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers={"origin": "http://t"}
            ) as client:
                await client.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": "unreachable-test"}
                )
                response = await client.post("/api/v1/sessions", json={"template": "debian-shell"})
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "runtime_unavailable"
                assert "unreachable" in response.json()["error"]["message"]
                health = (await client.get("/api/v1/health")).json()
                assert health == {"status": "degraded", "database": "ok", "docker": "unavailable"}
            async with context.sessionmaker() as db:
                assert await db.scalar(select(func.count()).select_from(WorkspaceSession)) == 0
