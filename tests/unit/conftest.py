"""An in-process Moorage app on a fresh database with the fake container driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import Context
from moorage.drivers.fake import FakeDriver
from moorage.drivers.fake_machines import FakeConnector
from tests.databases import fresh_database

ADMIN_PASSWORD = "admin-password-for-tests"
BASE_URL = "http://testserver"
# Browsers send Origin on every POST/PUT/PATCH/DELETE; a cookie client without it
# is refused by the CSRF guard (moorage.security.csrf).
SAME_ORIGIN = {"Origin": BASE_URL}


@dataclass
class App:
    client: httpx.AsyncClient
    context: Context
    driver: FakeDriver
    connector: FakeConnector

    async def login(self, username: str, password: str) -> httpx.AsyncClient:
        """A new client logged in as ``username`` (cookie auth)."""
        client = httpx.AsyncClient(
            transport=self.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
        )
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return client


@pytest.fixture
async def app(tmp_path) -> AsyncIterator[App]:
    driver = FakeDriver()
    connector = FakeConnector()
    async with fresh_database(tmp_path) as url:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            admin_password=SecretStr(ADMIN_PASSWORD),
            reconcile_interval_seconds=3600,
            warm_interval_seconds=3600,  # tests run the warm pools keeper themselves
            compat="all",  # every seed API, so the access matrix covers their routes
        )
        application = create_app(
            settings,
            driver_factory=lambda env: driver,
            connector=connector,
            announce=lambda message: None,
        )
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url=BASE_URL, headers=SAME_ORIGIN
            ) as c:
                response = await c.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
                )
                assert response.status_code == 200
                yield App(c, application.state.context, driver, connector)


@pytest.fixture
async def member(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as the member `alice`."""
    response = await app.client.post(
        "/api/v1/users", json={"username": "alice", "password": "alice-password", "role": "member"}
    )
    assert response.status_code == 201, response.text
    client = await app.login("alice", "alice-password")
    yield client
    await client.aclose()
